// Each role on the one resource it is needed for, never on the resource group.
// Built-in role ids: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
param storageName string
param insightsName string
param vaultName string
param identityPrincipalId string
@description('The deploying user (AZURE_PRINCIPAL_ID); empty: no roles for a person')
param principalId string
param principalType string

var roles = {
  blobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // host: package container, timer locks
  queueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // the check queue: send, trigger, poison
  tableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // desired state, history, outbox; host diagnostics
  metricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb' // telemetry with local auth off
  secretsUser: '4633458b-17de-408a-b874-0445c86b69e6' // read the webhook URLs (Key Vault references)
  secretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7' // the deployer stores the webhook URLs
}

resource storage 'Microsoft.Storage/storageAccounts@2026-09-01' existing = {
  name: storageName
}

resource insights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: insightsName
}

resource vault 'Microsoft.KeyVault/vaults@2026-05-15' existing = {
  name: vaultName
}

resource appBlob 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, roles.blobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.blobDataOwner)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appQueue 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, roles.queueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.queueDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appTable 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, roles.tableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.tableDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appMetrics 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(insights.id, identityPrincipalId, roles.metricsPublisher)
  scope: insights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.metricsPublisher)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identityPrincipalId, roles.secretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.secretsUser)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The admin CLI (tenant add, exception add, check) from the deployer's workstation.
resource userTable 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(principalId)) {
  name: guid(storage.id, principalId, roles.tableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.tableDataContributor)
    principalId: principalId
    principalType: principalType
  }
}

// `az keyvault secret set` for each Teams webhook URL (README "Deploy").
resource userSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(principalId)) {
  name: guid(vault.id, principalId, roles.secretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.secretsOfficer)
    principalId: principalId
    principalType: principalType
  }
}
