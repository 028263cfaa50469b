// SMTP AUTH Guard: everything `azd up` provisions (README "Deploy"; why each right:
// docs/permissions.md). Plain resources only, so the offline checks (tests/infra) see
// all of them; the Graph and Exchange grants are the one step after it
// (infra/scripts/grant_permissions.py).
targetScope = 'subscription'

@minLength(1)
@maxLength(40)
@description('The azd environment name: names the resource group and tags every resource')
param environmentName string

@minLength(1)
@description('A region that offers Flex Consumption')
@metadata({ azd: { type: 'location' } })
param location string

@description('Object id of the deploying user (azd fills AZURE_PRINCIPAL_ID): table access for the admin CLI, and the right to store the webhook URLs in Key Vault. Empty: no roles for a person')
param principalId string = ''

@allowed(['User', 'Group', 'ServicePrincipal'])
param principalType string = 'User'

@description('Who the watchdog emails when no check completed for watchdogMinutes')
param alertEmail string

@description('Minutes without a completed check before the watchdog alerts. Keep it above the longest tenant interval (CheckIntervalMinutes) plus a tick')
@allowed([30, 60, 120, 180, 360, 720, 1440, 2880])
param watchdogMinutes int = 60

// Each trigger scales in its own group up to this many instances, and 40 is the lowest
// the platform accepts. A tenant is checked by one worker at a time (its check lease) and
// host.json lets an instance take 3 messages, so 40 instances check up to ~120 tenants
// at once: more only makes the first tick after a long outage finish sooner.
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

// The product's settings (shared/shell/settings.py). Defaults are the code's own
// (shared/core/limits.py); tests/infra/test_app_settings.py keeps the two equal.
param checkSchedule string = '0 */15 * * * *'
param digestSchedule string = '0 0 7 * * 1'
param exchangeUrl string = 'https://outlook.office365.com'
param graphUrl string = 'https://graph.microsoft.com'
param tablePrefix string = 'SmtpAuth'
param checkQueue string = 'smtpauth-checks'
param maxParallelTenants int = 4
param reminderHours int = 24
param notifyMaxAttempts int = 8
param cardMaxKb int = 20
param maxExceptionDays int = 730

@description('The mailbox notification mail is sent as (an Exchange Online mailbox); empty: no email')
param mailSender string = ''

@description('Operators told when any tenant cannot be checked: addresses separated by ;')
param opsEmail string = ''

@description('Names of the app settings holding Teams Workflows webhook URLs (the tenant rows name them). Each is a Key Vault reference to the secret of the same name with - for _')
param teamsWebhookSettings array = []

@description('Which of teamsWebhookSettings the operators hear on; empty: none')
param opsTeamsWebhookSetting string = ''

// Customer tenants (docs/tenants.md): the multi-tenant app registration that trusts the
// identity through a federated credential (infra/scripts/grant_permissions.py adds it).
@description('Application (client) id of the multi-tenant app customer tenants consent to; empty: the home tenant only')
param multitenantAppId string = ''

@description('The federated credential\'s audience (the global cloud\'s by default)')
param tokenExchangeAudience string = 'api://AzureADTokenExchange'

@description('The Entra sign-in host; change it only for a national cloud')
param authorityHost string = 'https://login.microsoftonline.com'

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var siteName = 'func-${resourceToken}'
var deploymentContainerName = 'app-package-${take(siteName, 32)}-${take(toLower(uniqueString(siteName, resourceToken)), 7)}'
// shared/store/tables.py TableNames.with_prefix; shared/adapters/check_queue.py POISON_SUFFIX
var tableNames = [for suffix in ['Desired', 'Runs', 'Findings', 'Events', 'Audit', 'Locks', 'Outbox', 'Health']: '${tablePrefix}${suffix}']
var queueNames = [checkQueue, '${checkQueue}-poison']

var productSettings = [
  { name: 'SMTPAUTH_HOME_TENANT', value: tenant().tenantId }
  { name: 'SMTPAUTH_SCHEDULE', value: checkSchedule }
  { name: 'SMTPAUTH_DIGEST_SCHEDULE', value: digestSchedule }
  { name: 'SMTPAUTH_EXCHANGE_URL', value: exchangeUrl }
  { name: 'SMTPAUTH_GRAPH_URL', value: graphUrl }
  { name: 'SMTPAUTH_TABLE_PREFIX', value: tablePrefix }
  { name: 'SMTPAUTH_CHECK_QUEUE', value: checkQueue }
  { name: 'SMTPAUTH_MAX_PARALLEL_TENANTS', value: string(maxParallelTenants) }
  { name: 'SMTPAUTH_REMINDER_HOURS', value: string(reminderHours) }
  { name: 'SMTPAUTH_NOTIFY_MAX_ATTEMPTS', value: string(notifyMaxAttempts) }
  { name: 'SMTPAUTH_CARD_MAX_KB', value: string(cardMaxKb) }
  { name: 'SMTPAUTH_MAX_EXCEPTION_DAYS', value: string(maxExceptionDays) }
  { name: 'SMTPAUTH_MAIL_SENDER', value: mailSender }
  { name: 'SMTPAUTH_OPS_EMAIL', value: opsEmail }
  { name: 'SMTPAUTH_OPS_TEAMS_WEBHOOK_SETTING', value: opsTeamsWebhookSetting }
  { name: 'SMTPAUTH_MULTITENANT_APP_ID', value: multitenantAppId }
  { name: 'SMTPAUTH_TOKEN_EXCHANGE_AUDIENCE', value: tokenExchangeAudience }
  { name: 'AZURE_AUTHORITY_HOST', value: authorityHost }
]

resource rg 'Microsoft.Resources/resourceGroups@2025-04-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    tableNames: tableNames
    queueNames: queueNames
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    workspaceName: 'log-${resourceToken}'
    insightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
  }
}

module vault 'app/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: 'kv-${resourceToken}'
    location: location
    tags: tags
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageName: storage.outputs.name
    insightsName: monitoring.outputs.insightsName
    vaultName: vault.outputs.name
    identityPrincipalId: identity.outputs.principalId
    principalId: principalId
    principalType: principalType
  }
}

module function 'app/function.bicep' = {
  name: 'function'
  scope: rg
  dependsOn: [rbac] // the host reads its package and storage as the identity at first start
  params: {
    planName: 'plan-${resourceToken}'
    siteName: siteName
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageQueueEndpoint: storage.outputs.queueEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: deploymentContainerName
    insightsConnectionString: monitoring.outputs.connectionString
    vaultName: vault.outputs.name
    maximumInstanceCount: maximumInstanceCount
    productSettings: productSettings
    teamsWebhookSettings: teamsWebhookSettings
  }
}

module alerts 'app/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    location: location
    tags: tags
    insightsId: monitoring.outputs.insightsId
    alertEmail: alertEmail
    watchdogMinutes: watchdogMinutes
    namePrefix: resourceToken
  }
}

// Read by azd and by infra/scripts/grant_permissions.py (azd env get-values).
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_NAME string = function.outputs.name
output SERVICE_API_NAME string = function.outputs.name
output AZURE_FUNCTION_URL string = function.outputs.url
output AZURE_KEY_VAULT_NAME string = vault.outputs.name
output AZURE_STORAGE_ACCOUNT string = storage.outputs.name
output AZURE_STORAGE_TABLE_ENDPOINT string = storage.outputs.tableEndpoint
output SMTPAUTH_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output SMTPAUTH_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output SMTPAUTH_TABLE_PREFIX string = tablePrefix
output SMTPAUTH_MULTITENANT_APP_ID string = multitenantAppId
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.connectionString
