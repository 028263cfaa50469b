// Parses Teams message bodies with the official Adaptive Cards library and reports
// every parse and validation event (errors and warnings alike).
//
//   node tests/validate_cards.js < cards.json
//
// Input: [{"name": "...", "body": {"type": "message", "attachments": [...]}}, ...]
// Output: {"<name>": ["problem", ...], ...}; exit code 1 if any card has a problem.
//
// The package's "main" (lib/) is ES modules with extension-less imports that plain
// Node cannot load; its UMD bundle in dist/ loads fine, and parsing and validation
// need no DOM (only rendering does), so no jsdom.
"use strict";

const path = require("path");
const AC = require(path.join(__dirname, "..", "node_modules", "adaptivecards", "dist", "adaptivecards.js"));

const CARD_TYPE = "application/vnd.microsoft.card.adaptive";

function problemsOf(body) {
  const problems = [];
  if (!body || body.type !== "message" || !Array.isArray(body.attachments) || body.attachments.length === 0) {
    return ['not a Workflows message envelope ({"type": "message", "attachments": [...]})'];
  }
  for (const attachment of body.attachments) {
    if (attachment.contentType !== CARD_TYPE) {
      problems.push(`attachment contentType is ${attachment.contentType}, not ${CARD_TYPE}`);
      continue;
    }
    const json = attachment.content;
    if (!json || json.version !== "1.4") {
      problems.push(`card version is ${json && json.version}, expected "1.4"`);
    }
    const card = new AC.AdaptiveCard();
    // Target 1.4: anything newer (a 1.5 property, an unknown element) is reported.
    const context = new AC.SerializationContext(AC.Versions.v1_4);
    card.parse(json, context);
    for (let i = 0; i < context.eventCount; i++) {
      const event = context.getEventAt(i);
      problems.push(`parse: ${event.message}`);
    }
    for (const event of card.validateProperties().validationEvents) {
      problems.push(`validate: ${event.message}`);
    }
  }
  return problems;
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const report = {};
  let failed = false;
  for (const item of JSON.parse(input)) {
    const problems = problemsOf(item.body);
    report[item.name] = problems;
    failed = failed || problems.length > 0;
  }
  process.stdout.write(JSON.stringify(report, null, 2) + "\n");
  process.exit(failed ? 1 : 0);
});
