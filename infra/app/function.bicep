// The Function App on Flex Consumption (FC1, Linux, Python 3.11), running as the
// user-assigned identity and deploying from a blob container it reads as that identity.
// Only settings Flex accepts: no FUNCTIONS_WORKER_RUNTIME, WEBSITE_RUN_FROM_PACKAGE,
// alwaysOn, ftpsState and the like (functionAppConfig replaces them).
param planName string
param siteName string
param location string
param tags object
param identityId string
param identityClientId string
param storageBlobEndpoint string
param storageQueueEndpoint string
param storageTableEndpoint string
param deploymentContainerName string
param insightsConnectionString string
param vaultName string
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int
@description('The product\'s own settings (SMTPAUTH_*), built in main.bicep')
param productSettings array
@description('Names of the app settings that hold Teams webhook URLs; each becomes a Key Vault reference to the secret of the same name with - for _')
param teamsWebhookSettings array

resource plan 'Microsoft.Web/serverfarms@2025-05-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    //checkov:skip=CKV_AZURE_225:Flex Consumption has no zone-redundant option to turn on here; a missed check is retried by the next tick
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

// The host's storage connection by identity. A user-assigned identity needs all of these:
// __accountName (or the URIs) alone makes the host use a system-assigned identity.
var hostStorageSettings = [
  { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
  { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
  { name: 'AzureWebJobsStorage__blobServiceUri', value: storageBlobEndpoint }
  { name: 'AzureWebJobsStorage__queueServiceUri', value: storageQueueEndpoint }
  { name: 'AzureWebJobsStorage__tableServiceUri', value: storageTableEndpoint }
]

// Application Insights without instrumentation-key writes: the exporter signs in as the
// identity; OpenTelemetry mode (host.json telemetryMode) so log fields reach customDimensions.
var telemetrySettings = [
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insightsConnectionString }
  { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identityClientId};Authorization=AAD' }
  { name: 'PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY', value: 'true' }
]

var webhookSettings = [
  for setting in teamsWebhookSettings: {
    name: setting
    value: '@Microsoft.KeyVault(VaultName=${vaultName};SecretName=${replace(setting, '_', '-')})'
  }
]

// azure-identity's ManagedIdentityCredential picks the user-assigned identity by this.
var identitySettings = [
  { name: 'AZURE_CLIENT_ID', value: identityClientId }
]

var appSettings = concat(hostStorageSettings, telemetrySettings, identitySettings, productSettings, webhookSettings)

resource site 'Microsoft.Web/sites@2025-05-01' = {
  //checkov:skip=CKV_AZURE_17:The triggers are timers and queues; the only HTTP endpoint (GET /api/health, when present) takes a function key from uptime monitors, which cannot present client certificates
  //checkov:skip=CKV_AZURE_18:http20Enabled is an App Service site setting that Flex Consumption manages itself; not set here so ARM cannot reject it
  //checkov:skip=CKV_AZURE_67:Same reason as CKV_AZURE_18
  //checkov:skip=CKV_AZURE_213:App Service health check pings instances that Flex Consumption scales to zero; the watchdog alert (app/alerts.bicep) notices a stopped app
  //checkov:skip=CKV_AZURE_212:Flex Consumption scales from zero by design; a missed tick is caught up by the next one
  //checkov:skip=CKV_AZURE_222:Public network by default (README "Deploy"): azd deploy and uptime monitors (GET /api/health with a function key) reach it
  //checkov:skip=CKV_AZURE_78:ftpsState is rejected on Flex Consumption; FTP is off through basicPublishingCredentialsPolicies (custom check CKV_SMTPAUTH_5)
  //checkov:skip=CKV_AZURE_16:The app has a managed identity, user-assigned (identity.type UserAssigned); this check only accepts a system-assigned one
  name: siteName
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    // Key Vault references resolve as the user-assigned identity, not a system one.
    keyVaultReferenceIdentity: identityId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: 2048
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      appSettings: appSettings
    }
  }
}

// No basic-auth publishing: FTP off, and azd deploys with an Entra token, not SCM basic auth.
resource ftp 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-05-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scm 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-05-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = site.name
output url string = 'https://${site.properties.defaultHostName}'
output id string = site.id
