// Renders card text the way a Markdown host does: markdown-it (the renderer the
// Adaptive Cards JS library recommends), raw HTML off as in Teams, links detected.
//
//   node tests/render_markdown.js < texts.json      ["text", ...] -> ["<p>html</p>", ...]
"use strict";

const path = require("path");
const MarkdownIt = require(path.join(__dirname, "..", "node_modules", "markdown-it"));

const md = new MarkdownIt({ html: false, linkify: true });
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const html = JSON.parse(input).map((text) => md.render(text));
  process.stdout.write(JSON.stringify(html) + "\n");
});
