// Every shared schema, registered once on the app; their $ids are the OpenAPI component names.
import { sharedSchemas } from './common.js'
import { nnSchemas } from './nn.js'
import { sessionSchemas } from './sessions.js'
import { materializationSchemas } from './materializations.js'
import { moduleClassSchemas } from './module-classes.js'
import { hubSchemas } from './hub.js'

export const allSchemas = [...sharedSchemas, ...nnSchemas, ...sessionSchemas, ...materializationSchemas, ...moduleClassSchemas, ...hubSchemas]
