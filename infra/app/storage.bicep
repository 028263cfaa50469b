// Host storage (deployment package, timer locks, queue trigger) and the product's own
// tables and check queue, all in one account reached by identity only: no account key
// works (allowSharedKeyAccess: false), so none can leak.
param name string
param location string
param tags object
@description('The container the Flex Consumption host deploys the package from')
param deploymentContainerName string
@description('The product\'s tables (shared/store/tables.py TableNames)')
param tableNames array
@description('The check queue and its poison queue (shared/adapters/check_queue.py)')
param queueNames array

resource storage 'Microsoft.Storage/storageAccounts@2026-09-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    //checkov:skip=CKV_AZURE_206:LRS as in Microsoft's Flex template: the account holds tenant settings and history, not mail; ZRS is not offered in every Flex region
    //checkov:skip=CKV_AZURE_35:Public network by default (README "Deploy"): the admin CLI on a workstation must reach the tables; access needs an Entra token with a data role, shared keys are off
    //checkov:skip=CKV_AZURE_59:Same reason as CKV_AZURE_35: public endpoint, identity-only access
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    dnsEndpointType: 'Standard'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2026-09-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deployment 'Microsoft.Storage/storageAccounts/blobServices/containers@2026-09-01' = {
  parent: blobs
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2026-09-01' = {
  parent: storage
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2026-09-01' = [
  for table in tableNames: {
    parent: tableService
    name: table
  }
]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2026-09-01' = {
  parent: storage
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2026-09-01' = [
  for queue in queueNames: {
    parent: queueService
    name: queue
  }
]

output name string = storage.name
output id string = storage.id
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
