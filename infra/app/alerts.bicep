// The watchdog: every finished check logs a "check_completed" event (shared/shell/
// watchdog.py) that reaches Application Insights as customDimensions; when none
// arrives for watchdogMinutes, someone is emailed, so a stopped app does not go unnoticed.
param location string
param tags object
param insightsId string
param alertEmail string
@description('Minutes without a completed check before the alert fires (the query window)')
@allowed([30, 60, 120, 180, 360, 720, 1440, 2880])
param watchdogMinutes int
param namePrefix string

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-${namePrefix}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'smtpauth'
    enabled: true
    emailReceivers: [
      {
        name: 'watchdog'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

resource noChecks 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${namePrefix}-no-checks'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'SMTP AUTH Guard: no check completed'
    description: 'No check_completed event for ${watchdogMinutes} minutes: the app is stopped, failing to start, or has no tenant to check.'
    severity: 1
    enabled: true
    scopes: [
      insightsId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT${watchdogMinutes}M'
    criteria: {
      allOf: [
        {
          // One row always (summarize without by), so an empty window counts 0, not "no data".
          query: 'traces | where customDimensions.event == "check_completed" | summarize completed = count()'
          timeAggregation: 'Total'
          metricMeasureColumn: 'completed'
          operator: 'LessThan'
          threshold: 1
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

output actionGroupId string = actionGroup.id
output alertId string = noChecks.id
