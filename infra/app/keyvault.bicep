// Teams Workflows webhook URLs are secrets (anyone holding one can post to the
// channel): they live here, and the function app's settings are Key Vault references.
param name string
param location string
param tags object

resource vault 'Microsoft.KeyVault/vaults@2026-05-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    //checkov:skip=CKV_AZURE_110:azd down --purge must be able to purge the vault; it holds only webhook URLs, which Teams can issue again
    //checkov:skip=CKV_AZURE_42:Recoverable through soft delete (7 days); purge protection is off for the reason given for CKV_AZURE_110
    //checkov:skip=CKV_AZURE_109:Key Vault references do not resolve on Flex Consumption when the vault is network-restricted (docs/permissions.md); access is Entra RBAC only
    //checkov:skip=CKV_AZURE_189:Same reason as CKV_AZURE_109
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
  }
}

output name string = vault.name
output id string = vault.id
output uri string = vault.properties.vaultUri
