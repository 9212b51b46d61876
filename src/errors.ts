// The one error registry, in two tables (as fastify core's lib/errors.js, with codes fixed by the
// HTTP contract): `errorDefs` holds each stable code with its HTTP status and what it means (docs,
// openapi.yaml); `errorMessages` holds each error the service raises: the code it answers with and
// its message template, `{name}` placeholders filled from the parameters given to materiaError().
// Several messages may share one code (every bad option combination is MATERIA_ERR_MATERIALIZATION_OPTIONS).
// Codes are stable and never reused; add new ones at the end of their area.
import { STATUS_CODES } from 'node:http'

export interface ErrorDef {
  readonly code: string
  readonly statusCode: number
  /** What the code means, for docs and openapi.yaml. */
  readonly description: string
}

function def (code: string, statusCode: number, description: string): ErrorDef {
  return { code, statusCode, description }
}

export const errorDefs = {
  // request shape (fastify's own errors are mapped onto these)
  badRequest: def('MATERIA_ERR_BAD_REQUEST', 400, 'The request is malformed (bad JSON, bad content type, bad parameter).'),
  validation: def('MATERIA_ERR_VALIDATION', 400, 'The request does not match the schema of this route.'),
  bodyTooLarge: def('MATERIA_ERR_BODY_TOO_LARGE', 413, 'The request body is larger than this route accepts.'),
  unsupportedMediaType: def('MATERIA_ERR_UNSUPPORTED_MEDIA_TYPE', 415, 'The request content type is not accepted by this route.'),
  routeNotFound: def('MATERIA_ERR_ROUTE_NOT_FOUND', 404, 'No route matches this method and path.'),
  uriTooLong: def('MATERIA_ERR_URI_TOO_LONG', 414, 'A path segment is longer than any handle or name this API takes (100 characters).'),
  requestTimeout: def('MATERIA_ERR_REQUEST_TIMEOUT', 408, 'The request body stopped arriving: no byte for MATERIA_RECEIVE_TIMEOUT; the message gives the bytes received.'),
  invalidCursor: def('MATERIA_ERR_INVALID_CURSOR', 400, 'The cursor query parameter of a list route is not a nextCursor this service issued (malformed, truncated or edited).'),
  // torch.nn catalog and constructor arguments
  unknownClass: def('MATERIA_ERR_NN_UNKNOWN_CLASS', 404, 'The class name is not in the catalog; the message lists close matches.'),
  constructorArgs: def('MATERIA_ERR_NN_ARGS', 400, 'The constructor arguments are invalid, worded as Python/PyTorch would word them.'),
  notAModule: def('MATERIA_ERR_NN_NOT_A_MODULE', 400, "The name is not a torch.nn.Module (PyTorch: Expected a Module; got <class '…'>)."),
  noDeviceArg: def('MATERIA_ERR_NN_NO_DEVICE_ARG', 400, "The module cannot take a 'device' argument, so it cannot skip initialization."),
  badTie: def('MATERIA_ERR_NN_BAD_TIE', 400, 'A tie names an unknown tensor or joins tensors of different shape or dtype.'),
  specTooLarge: def('MATERIA_ERR_NN_SPEC_TOO_LARGE', 400, 'The module spec nests too deeply or has too many submodules or tensors.'),
  pythonSyntax: def('MATERIA_ERR_NN_PYTHON_SYNTAX', 400, 'A `python` module spec is not an expression of the accepted literal subset of Python; the message names the column (1-based, as Python\'s SyntaxError) and what was expected there.'),
  // handles
  sessionNotFound: def('MATERIA_ERR_SESSION_NOT_FOUND', 404, 'No session with this id (or it expired, or belongs to another tenant).'),
  moduleNotFound: def('MATERIA_ERR_MODULE_NOT_FOUND', 404, 'No module with this id in this session.'),
  // operations
  unauthorized: def('MATERIA_ERR_UNAUTHORIZED', 401, 'The API key is missing or invalid.'),
  notReady: def('MATERIA_ERR_NOT_READY', 503, 'The service is not ready (store unreachable, pool down, or shutting down).'),
  internal: def('MATERIA_ERR_INTERNAL', 500, 'An unexpected server error; details are in the server log under the request id.'),
  credentialInQuery: def('MATERIA_ERR_CREDENTIAL_IN_QUERY', 400, 'A query parameter is named like a credential (api_key, key, token, access_token, password, …); URLs are logged, so keys go in the Authorization or x-api-key header.'),
  rateLimited: def('MATERIA_ERR_RATE_LIMITED', 429, 'The tenant sent more requests this minute than MATERIA_RATE_LIMIT (or its tenants-file rateLimit) allows; Retry-After and RateLimit-Reset say when to try again.'),
  overloaded: def('MATERIA_ERR_OVERLOADED', 503, 'The replica is overloaded (event-loop delay, heap or RSS above its MATERIA_MAX_* threshold) and sheds load; retry after Retry-After seconds.'),
  tenantSessionQuota: def('MATERIA_ERR_TENANT_SESSION_QUOTA', 429, 'The tenant already holds as many live sessions as its quota (MATERIA_TENANT_MAX_SESSIONS or its tenants-file maxSessions); the message gives the figures.'),
  tenantMemoryQuota: def('MATERIA_ERR_TENANT_MEMORY_QUOTA', 507, 'The tenant\'s materializations would hold more bytes than its quota (MATERIA_TENANT_MAX_RESIDENT_BYTES or its tenants-file maxResidentBytes); the message gives the figures.'),
  moduleTooLarge: def('MATERIA_ERR_MODULE_TOO_LARGE', 413, 'The module has more tensors than the tenant\'s maxModuleTensors (MATERIA_MODULE_MAX_TENSORS), or its record would be larger than one module may be; refused before its tensor table is built, and the message gives the figures.'),
  sessionModuleQuota: def('MATERIA_ERR_SESSION_MODULE_QUOTA', 429, 'The session already holds as many modules as the tenant\'s maxSessionModules (MATERIA_SESSION_MAX_MODULES); delete one or use another session.'),
  tenantModuleQuota: def('MATERIA_ERR_TENANT_MODULE_QUOTA', 507, 'The tenant\'s module records would hold more memory than its maxModuleBytes (MATERIA_TENANT_MAX_MODULE_BYTES) on this replica; the message gives the figures.'),
  moduleBudget: def('MATERIA_ERR_MODULE_BUDGET', 507, 'The module records of every tenant would hold more memory than this replica keeps for them (MATERIA_MODULE_BUDGET); the message gives the figures.'),
  // safetensors serialization
  checkpointInvalid: def('MATERIA_ERR_CHECKPOINT_INVALID', 400, 'The uploaded safetensors file is malformed: bad header length, UTF-8, JSON or entry fields, unknown dtype, offsets that do not match shape and dtype, overlapping or non-contiguous data, a file length other than 8 + header + data, or non-string metadata.'),
  checkpointUnserializable: def('MATERIA_ERR_CHECKPOINT_UNSERIALIZABLE', 400, 'The tensors cannot be written as safetensors: duplicate or reserved (__metadata__) name, a name that is not valid Unicode, an unsupported dtype, a byte size that does not match shape and dtype, or an inconsistent tie.'),
  rangeNotSatisfiable: def('MATERIA_ERR_RANGE_NOT_SATISFIABLE', 416, 'The Range header asks for bytes beyond the end of the file; Content-Range gives the file size.'),
  // materializations
  materializationNotFound: def('MATERIA_ERR_MATERIALIZATION_NOT_FOUND', 404, 'No materialization with this id in this session (or it was deleted).'),
  tensorNotFound: def('MATERIA_ERR_TENSOR_NOT_FOUND', 404, 'The materialization has no tensor of this name.'),
  materializationNotReady: def('MATERIA_ERR_MATERIALIZATION_NOT_READY', 409, 'The materialization is still being filled, or it failed; its status and progress say which.'),
  memoryBudget: def('MATERIA_ERR_MEMORY_BUDGET', 507, 'The memory budget (MATERIA_MEMORY_BUDGET) cannot hold this materialization; the message gives the figures.'),
  checkpointMismatch: def('MATERIA_ERR_CHECKPOINT_MISMATCH', 400, 'The checkpoint does not fit the module as load_state_dict requires: missing or unexpected keys (strict), size-mismatched keys, or a non-floating tensor of another dtype.'),
  materializationOptions: def('MATERIA_ERR_MATERIALIZATION_OPTIONS', 400, 'The materialization options do not go together (for example seed or rng without init "default").'),
  initUnavailable: def('MATERIA_ERR_INIT_UNAVAILABLE', 501, 'This init is not available in this version of the service.'),
  dataBudget: def('MATERIA_ERR_DATA_BUDGET', 507, 'The data directory cannot hold this checkpoint: the files persisted by every replica sharing it, with this one, would pass MATERIA_DATA_BUDGET (or its volume is full); the message gives the figures, and nothing of the upload is kept.'),
  checkpointFile: def('MATERIA_ERR_CHECKPOINT_FILE', 500, 'The checkpoint file could not be written to the data directory (nothing of it is kept), or the persisted file of this checkpoint materialization is missing from the data directory or differs from its record (size, header or sha256): the directory is not the one the other replicas share, or the file was changed outside the service.'),
  reprUnavailable: def('MATERIA_ERR_REPR_UNAVAILABLE', 501, 'print(module) is checked against PyTorch for torch.nn modules only; a module holding other classes (transformers) has no repr in this version.'),
  pretrainedUnavailable: def('MATERIA_ERR_PRETRAINED_UNAVAILABLE', 501, 'The save_pretrained files (and the /hub repository) exist for transformers models only.'),
  // the /hub model repositories (docs/hub.md)
  revisionNotFound: def('MATERIA_ERR_REVISION_NOT_FOUND', 404, 'A /hub repository has one revision: `main`, or its commit sha.')
} as const satisfies Record<string, ErrorDef>

export type ErrorName = keyof typeof errorDefs

export interface ErrorMessage<T extends string = string> {
  /** the errorDefs entry whose code and status the error carries */
  readonly error: ErrorName
  /** the message, `{name}` placeholders filled from materiaError()'s parameters */
  readonly template: T
}

function msg<const T extends string> (error: ErrorName, template: T): ErrorMessage<T> {
  return { error, template }
}

/**
 * Every error the service raises, by name: its code and its message template. Grouped by the part
 * of the service that raises them; a message whose wording is PyTorch's or Python's own (argument
 * binding, load_state_dict) is built by that code and passed whole as `{message}`.
 */
export const errorMessages = {
  // request shape, router, auth, limits (src/plugins, src/store)
  routeNotFound: msg('routeNotFound', 'Route {method} {path} not found'),
  uriTooLong: msg('uriTooLong', 'A path segment is longer than 100 characters'),
  badUrl: msg('badRequest', 'The URL is not valid: a path segment does not decode'),
  internal: msg('internal', 'Internal server error'),
  credentialInQuery: msg('credentialInQuery', "Query parameter '{param}' looks like a credential; URLs are logged and cached, so send API keys as Authorization: Bearer <key> or x-api-key"),
  missingApiKey: msg('unauthorized', 'Missing API key: send Authorization: Bearer <key> or x-api-key'),
  invalidApiKey: msg('unauthorized', 'Invalid API key'),
  rateLimited: msg('rateLimited', 'Rate limit exceeded: {max} requests per minute for this {holder}; retry in {seconds} s'),
  overloaded: msg('overloaded', 'The service is overloaded: {reason}; retry in {seconds} s'),
  invalidCursor: msg('invalidCursor', 'Invalid cursor: {reason}; pass the nextCursor of a previous page unchanged, or no cursor for the first page'),
  storeUnavailable: msg('notReady', 'Session store unavailable (Redis {operation}: {reason})'),
  tenantModuleQuota: msg('tenantModuleQuota', "The module's record needs {bytes} bytes ({bytesMiB}); this tenant's modules hold {held} bytes " +
    "of its {quota}-byte quota ({quotaMiB}) on this replica, {free} free (MATERIA_TENANT_MAX_MODULE_BYTES or the tenant's maxModuleBytes); " +
    'delete modules or sessions to make room'),
  moduleBudget: msg('moduleBudget', "The module's record needs {bytes} bytes ({bytesMiB}); module records hold {held} bytes " +
    "of this replica's {budget}-byte budget ({budgetMiB}), {free} free (MATERIA_MODULE_BUDGET)"),
  // torch.nn catalog, constructor arguments, specs (src/nn)
  constructorArgs: msg('constructorArgs', '{message}'),
  unknownClass: msg('unknownClass', "Unknown module class '{name}'. Close matches: {matches}"),
  // the catalog route lists the classes; its URL belongs here, not in src/nn
  unknownClassNoMatch: msg('unknownClass', "Unknown module class '{name}'. No close matches; GET /v1/modules lists every class"),
  notAModule: msg('notAModule', 'Expected a Module; got {pyClass}'),
  specNotObject: msg('constructorArgs', 'A module spec must be an object like {"class": "Linear", "args": [5, 1]}'),
  specNoClass: msg('constructorArgs', "A module spec needs a string 'class', e.g. \"torch.nn.Linear\""),
  specUnknownKey: msg('constructorArgs', "Unknown key '{key}' in module spec (expected class, args, kwargs, ties)"),
  specArgsNotList: msg('constructorArgs', "'args' of {module} must be a list"),
  specKwargsNotObject: msg('constructorArgs', "'kwargs' of {module} must be an object"),
  nonFiniteArgument: msg('constructorArgs', 'Non-finite numbers are not valid JSON arguments'),
  intOutOfRange: msg('constructorArgs', "{fn}(): argument '{param}' = {value} is outside the exactly representable integer range (|n| <= 2^53-1)"),
  unsupportedDevice: msg('constructorArgs', '{fn}(): unsupported device \'{device}\'; expected "meta", "cpu" or "worker"'),
  tensorArgument: msg('constructorArgs', '{param} is not supported: tensors cannot be passed in a module spec'),
  weightArgument: msg('constructorArgs', '_weight is not supported: tensors cannot be passed in a module spec; build without _weight and ' +
    'materialize from a safetensors checkpoint to load values'),
  sizeBeyond53: msg('constructorArgs', 'Tensor sizes must be integers below 2^53, got [{shape}]'),
  tiesNotList: msg('badTie', "'ties' must be a list of lists of tensor names, e.g. [[\"lm_head.weight\", \"embed.weight\"]]"),
  tieUnknown: msg('badTie', "Cannot tie '{name}': {module} has no tensor of that name"),
  tieKind: msg('badTie', "Cannot tie '{name}' ({kind}) to '{target}' ({targetKind})"),
  tieShape: msg('badTie', "Cannot tie '{name}' {dtype}[{shape}] to '{target}' {targetDtype}[{targetShape}]: shape and dtype must match"),
  specNestsDeep: msg('specTooLarge', 'Module spec nests deeper than {max} levels'),
  argumentsNestDeep: msg('specTooLarge', 'Module arguments nest deeper than {max} levels'),
  treeNestsDeep: msg('specTooLarge', 'Module tree nests deeper than {max} levels'),
  specConstructsMany: msg('specTooLarge', 'Module spec constructs more than {max} modules'),
  tooManySubmodules: msg('specTooLarge', 'Module has {count} submodules (limit {max})'),
  tooManySpecTensors: msg('specTooLarge', 'Module has more than {max} tensors'),
  tensorTooLarge: msg('specTooLarge', "Tensor '{name}' has {nbytes} bytes, beyond 2^53-1"),
  tooManyLayers: msg('specTooLarge', '{module} would hold {count} layers (limit {max})'),
  pythonSyntax: msg('pythonSyntax', 'SyntaxError at {where}: {detail}'),
  pythonTooLong: msg('specTooLarge', 'Python module spec has {length} characters (limit {max})'),
  pythonTooManyTokens: msg('specTooLarge', 'Python module spec has more than {max} tokens'),
  pythonNestsDeep: msg('specTooLarge', 'Python module spec nests deeper than {max} levels (at {where})'),
  pythonSpecKey: msg('constructorArgs', "Unknown key '{key}' in a python module spec (expected python, ties)"),
  moduleTensors: msg('moduleTooLarge', "The module has {count} tensors; this tenant's modules may have at most {max} " +
    "(MATERIA_MODULE_MAX_TENSORS or the tenant's maxModuleTensors)"),
  moduleTensorsAtLeast: msg('moduleTooLarge', "The module has at least {count} tensors; this tenant's modules may have at most {max} " +
    "(MATERIA_MODULE_MAX_TENSORS or the tenant's maxModuleTensors)"),
  // init rules and overrides (src/init); a rule's {message} is the check torch.nn.init would fail
  initRejected: msg('initUnavailable', "init '{base}' for {qualname}: {message}"),
  initNoRule: msg('initUnavailable', "init '{base}' for {qualname}: no default init rule for {module}"),
  overridesNotObject: msg('materializationOptions', 'init.overrides must be an object mapping state_dict name patterns to { "fn": ..., <arguments> }'),
  overridePatternEmpty: msg('materializationOptions', "init.overrides['{pattern}']: the pattern is empty"),
  overrideNotObject: msg('materializationOptions', 'init.overrides[\'{pattern}\'] must be an object like { "fn": "xavier_uniform_", "gain": 1.0 }'),
  overrideUnknownFn: msg('materializationOptions', "init.overrides['{pattern}']: unknown init function {fn}; expected one of {fns}"),
  overrideUnexpectedArg: msg('materializationOptions', "init.overrides['{pattern}']: {fn}() got an unexpected keyword argument '{arg}' (it takes {accepted})"),
  overrideTakesNoArgs: msg('materializationOptions', "init.overrides['{pattern}']: {fn}() got an unexpected keyword argument '{arg}' (it takes no arguments)"),
  overrideMissingArg: msg('materializationOptions', "init.overrides['{pattern}']: {fn}() missing 1 required argument: '{arg}'"),
  overrideNotNumber: msg('materializationOptions', "init.overrides['{pattern}']: {fn}() argument '{arg}' must be a finite number, got {value}"),
  overrideMode: msg('materializationOptions', "init.overrides['{pattern}']: Mode {mode} not supported, please use one of fan_in, fan_out"),
  overrideNonlinearity: msg('materializationOptions', "init.overrides['{pattern}']: Unsupported nonlinearity {nonlinearity}; expected one of {nonlinearities}"),
  overrideStd: msg('materializationOptions', "init.overrides['{pattern}']: normal expects std >= 0.0, but found std {std}"),
  overrideRange: msg('materializationOptions', "init.overrides['{pattern}']: uniform_ expects to return a [from, to) range, but found from={a} > to={b}"),
  truncNormalStd: msg('materializationOptions', "init.overrides['{pattern}']: trunc_normal_ needs std > 0 (float division by zero), got std {std}"),
  truncNormalBounds: msg('materializationOptions', "init.overrides['{pattern}']: trunc_normal_ needs a < b, got a={a} b={b}"),
  truncNormalMass: msg('initUnavailable', "init.overrides['{pattern}']: trunc_normal_ keeps only p = {p} <= 0.3 of the normal's mass; PyTorch then samples " +
    'with a vector log that is not reproducible bit for bit, so this is not available'),
  overrideRejected: msg('materializationOptions', "init.overrides['{pattern}']: {fn} on '{name}' (shape [{shape}]): {message}"),
  overrideMatchesNothing: msg('materializationOptions', "init.overrides['{pattern}'] matches no floating-point tensor of {qualname}; its state_dict names are {names}"),
  overrideMatchesNothingEmpty: msg('materializationOptions', "init.overrides['{pattern}'] matches no floating-point tensor of {qualname} (it has none)"),
  // sessions, modules, materializations (routes, src/plugins/app, src/http)
  sessionNotFound: msg('sessionNotFound', "Session '{id}' not found"),
  sessionTtlTooLong: msg('validation', 'ttlSeconds must be at most {max}'),
  tenantSessionQuota: msg('tenantSessionQuota', 'This tenant holds {held} live sessions, as many as its quota allows ({max}: ' +
    "MATERIA_TENANT_MAX_SESSIONS or the tenant's maxSessions); delete a session or let one expire"),
  moduleNotFound: msg('moduleNotFound', "Module '{id}' not found"),
  sessionModuleQuota: msg('sessionModuleQuota', "The session holds {count} modules, as many as this tenant's sessions may hold " +
    "({max}: MATERIA_SESSION_MAX_MODULES or the tenant's maxSessionModules); delete one or use another session"),
  materializationNotFound: msg('materializationNotFound', "Materialization '{id}' not found"),
  materializationNotReady: msg('materializationNotReady', "Materialization '{id}' is {status}{reason}; bytes are served once it is ready"),
  materializationFailed: msg('materializationNotReady', 'Materialization failed: {reason}'),
  tensorNotFound: msg('tensorNotFound', "Materialization '{id}' has no tensor '{name}'"),
  shardFileNotFound: msg('tensorNotFound', "No file '{file}' in this export; the index lists {files}"),
  rangeNotSatisfiable: msg('rangeNotSatisfiable', 'Range {range} is not satisfiable for {size} bytes'),
  skipInitNoDeviceArg: msg('noDeviceArg', "Module must support a 'device' arg to skip initialization"),
  skipInitDevice: msg('constructorArgs', "skip_init materializes on 'cpu' or 'worker', got device {device}"),
  dtypeNotFloating: msg('materializationOptions', "dtype must be a floating dtype (float32, float64, float16, bfloat16), got '{dtype}'"),
  pretrainedNotTransformers: msg('pretrainedUnavailable', 'save_pretrained files exist for transformers models; this materialization holds {qualname}'),
  pretrainedFileNotFound: msg('tensorNotFound', "No file '{file}' in this model; it has {files}"),
  hubRevisionNotFound: msg('revisionNotFound', "Revision '{revision}' not found; this repository has 'main' = {sha}"),
  reprNotTorchNn: msg('reprUnavailable', 'print(module) of {qualname} is not available: repr is checked against PyTorch for torch.nn classes only'),
  seedWithoutDraws: msg('materializationOptions', "seed and rng apply to init 'default' or overrides only (init is '{init}')"),
  lazyEmpty: msg('materializationOptions', "lazy: true needs bytes that are a function of the request (init zeros, ones, default or overrides); init 'empty' leaves whatever the memory held, so there is nothing to generate"),
  truncNormalNeedsTorch: msg('initUnavailable', "trunc_normal_ overrides need rng 'torch' (its rejection loop is defined on torch's stream)"),
  queryOptionsOnJson: msg('materializationOptions', 'Query options ({options}) apply to checkpoint uploads; a JSON request takes its options in the body'),
  checkpointStrictOptions: msg('materializationOptions', 'init, seed and rng choose the values of missing keys: they need strict=false'),
  checkpointSeedWithoutDraws: msg('materializationOptions', "seed and rng apply to init 'default' (init is '{init}')"),
  uploadStalled: msg('requestTimeout', 'The upload sent no byte for {idleMs} ms after {received} of {length} bytes (MATERIA_RECEIVE_TIMEOUT)'),
  shuttingDown: msg('notReady', 'The service is shutting down'),
  checkFailed: msg('notReady', 'Not ready: {name} check failed'),
  // materialize (src/materialize): the budget, quotas, a checkpoint's bytes as they stream in
  memoryBudget: msg('memoryBudget', 'Materialization needs {bytes} bytes ({bytesGiB}); the memory budget is {limit} bytes ' +
    '({limitGiB}) with {used} in use and {free} free (MATERIA_MEMORY_BUDGET)'),
  arenaAllocation: msg('memoryBudget', 'Could not allocate {bytes} bytes: {reason}'),
  tenantMemoryQuota: msg('tenantMemoryQuota', "Materialization needs {bytes} bytes ({bytesGiB}); this tenant's materializations hold {held} bytes " +
    "of its {max}-byte quota ({maxGiB}), {free} free (MATERIA_TENANT_MAX_RESIDENT_BYTES or the tenant's maxResidentBytes)"),
  checkpointExtraData: msg('checkpointInvalid', 'invalid safetensors file: {extra} bytes after the data section'),
  checkpointBodyEnded: msg('checkpointInvalid', 'invalid safetensors file: the body ended after {received} of {size} data bytes'),
  // the data directory (src/materialize/data-dir.ts, checkpoint-file.ts)
  dataBudget: msg('dataBudget', 'The checkpoint file needs {bytes} bytes ({bytesGiB}); the data budget is {limit} bytes ({limitGiB}) ' +
    'with {used} in use by the replicas sharing the data directory and {free} free (MATERIA_DATA_BUDGET)'),
  dataDirFull: msg('dataBudget', 'The checkpoint file needs {bytes} bytes and the volume of the data directory {dir} is full'),
  checkpointFileMissing: msg('checkpointFile', 'The persisted checkpoint file {name} cannot be opened ({reason})'),
  checkpointFileMismatch: msg('checkpointFile', 'The persisted checkpoint file {name} does not match its record: {what}'),
  checkpointFileWrite: msg('checkpointFile', 'The checkpoint file could not be written to the data directory: {reason}'),
  checkpointNotPersisted: msg('checkpointFile', 'Checkpoint materialization {id} has no persisted file{reason}'),
  // load_state_dict's own report (src/materialize/checkpoint.ts builds it, as PyTorch words it)
  checkpointMismatch: msg('checkpointMismatch', '{message}'),
  // a checkpoint that failed in a fill or the header's parse worker: the message it failed with (a template above)
  checkpointFailed: msg('checkpointInvalid', '{message}'),
  sizeOverflow: msg('specTooLarge', '{what} {a} * {b} exceeds 2^53-1 and cannot be represented exactly'),
  // safetensors (src/serialize): an uploaded file that breaks the format, tensors that cannot be written
  stTorchSave: msg('checkpointInvalid', 'invalid safetensors file: this is a torch.save file ({format}), not safetensors; convert it ' +
    "with safetensors.torch.save_file(torch.load(path), 'model.safetensors') (save_model(model, …) for tied weights) and upload that"),
  stTooShort: msg('checkpointInvalid', 'invalid safetensors file: the file is {length} bytes long, too short for the 8-byte header length'),
  stHeaderOverLimit: msg('checkpointInvalid', 'invalid safetensors file: header length {length} is larger than the limit of {max} bytes{because}'),
  stHeaderBeyondFile: msg('checkpointInvalid', 'invalid safetensors file: header length {length} goes beyond the end of the file ({size} bytes, so at most {most})'),
  stNotUint: msg('checkpointInvalid', 'invalid safetensors file: {field} must be a non-negative integer, got {value}'),
  stUintTooLarge: msg('checkpointInvalid', 'invalid safetensors file: {field} {value} is too large (must be below 2^53)'),
  stHeaderBeyondData: msg('checkpointInvalid', 'invalid safetensors file: header length {length} goes beyond the end of the data ({size} bytes, so at most {most})'),
  stHeaderUtf8: msg('checkpointInvalid', 'invalid safetensors file: header is not valid UTF-8'),
  stHeaderJson: msg('checkpointInvalid', 'invalid safetensors file: header is not valid JSON: {reason}'),
  stHeaderNotObject: msg('checkpointInvalid', 'invalid safetensors file: header must be a JSON object, got {value}'),
  stMetadataTwice: msg('checkpointInvalid', 'invalid safetensors file: "__metadata__" appears twice'),
  stMetadataNotObject: msg('checkpointInvalid', 'invalid safetensors file: "__metadata__" must be an object of strings, got {value}'),
  stMetadataValue: msg('checkpointInvalid', 'invalid safetensors file: "__metadata__" values must be strings; {key} is {value}'),
  stMetadataKeyTwice: msg('checkpointInvalid', 'invalid safetensors file: "__metadata__" key {key} appears twice'),
  stTensorTwice: msg('checkpointInvalid', 'invalid safetensors file: tensor {name} appears twice'),
  stTensorNotObject: msg('checkpointInvalid', 'invalid safetensors file: tensor {name} must be an object {"dtype", "shape", "data_offsets"}, got {value}'),
  stFieldTwice: msg('checkpointInvalid', 'invalid safetensors file: tensor {name}: field {field} appears twice'),
  stMissingField: msg('checkpointInvalid', 'invalid safetensors file: tensor {name}: missing field "{field}"'),
  stDtypeNotString: msg('checkpointInvalid', 'invalid safetensors file: tensor {name}: dtype must be a string, got {value}'),
  stUnknownDtype: msg('checkpointInvalid', 'invalid safetensors file: tensor {name}: unknown dtype {dtype} (dtypes are case-sensitive: {dtypes})'),
  stShapeNotArray: msg('checkpointInvalid', 'invalid safetensors file: tensor {name}: shape must be an array, got {value}'),
  stOffsetsNotArray: msg('checkpointInvalid', 'invalid safetensors file: tensor {name}: data_offsets must be an array [begin, end], got {value}'),
  stOffsetsLength: msg('checkpointInvalid', 'invalid safetensors file: tensor {name}: data_offsets must have exactly 2 numbers, got {count}'),
  stOffsetsReversed: msg('checkpointInvalid', 'invalid safetensors file: tensor {name}: data_offsets [{begin}, {end}] end before begin'),
  stPartialBytes: msg('checkpointInvalid', 'invalid safetensors file: tensor {name}: {dtype} [{shape}] is not a whole number of bytes'),
  stShapeTooLarge: msg('checkpointInvalid', 'invalid safetensors file: tensor {name}: shape [{shape}] is too large'),
  stOffsetsSpan: msg('checkpointInvalid', 'invalid safetensors file: tensor {name}: data_offsets [{begin}, {end}] span {span} bytes but {dtype} [{shape}] needs {nbytes}'),
  stDataStart: msg('checkpointInvalid', 'invalid safetensors file: data must start at offset 0, but the first tensor {name} starts at {begin}'),
  stDataGap: msg('checkpointInvalid', 'invalid safetensors file: gap of {gap} bytes between tensor {before} (ends at {end}) and tensor {name} (starts at {begin}); data must be contiguous'),
  stDataOverlap: msg('checkpointInvalid', 'invalid safetensors file: tensor {name} [{begin}, {end}) overlaps tensor {other} [{otherBegin}, {otherEnd})'),
  stFileTooLarge: msg('checkpointInvalid', 'invalid safetensors file: file size exceeds 2^53 bytes'),
  stDtypeUnsupported: msg('checkpointInvalid', 'invalid safetensors file: tensor {name}: dtype {dtype} is valid safetensors but not supported by materia'),
  stTrailingBytes: msg('checkpointInvalid', 'invalid safetensors file: {extra} trailing bytes after the data (the file must be exactly 8 + {headerLength} + {dataSize} = {total} bytes, got {size})'),
  stTruncated: msg('checkpointInvalid', 'invalid safetensors file: data is truncated: the header describes 8 + {headerLength} + {dataSize} = {total} bytes, got {size}'),
  stTooManyEntries: msg('checkpointInvalid', 'invalid safetensors file: header has more than {max} entries{because}; refused after {count} of them, before parsing'),
  layoutShapeNotArray: msg('checkpointUnserializable', 'tensor {name}: shape must be an array'),
  layoutShapeNegative: msg('checkpointUnserializable', 'tensor {name}: shape [{shape}] must hold non-negative integers'),
  layoutTieUnknown: msg('checkpointUnserializable', 'tensor {name} is tied to unknown tensor {target}'),
  layoutTieMismatch: msg('checkpointUnserializable', 'tensor {name} ({dtype} [{shape}]) is tied to {target} ({targetDtype} [{targetShape}]): tied tensors must have the same dtype and shape'),
  layoutNameNotString: msg('checkpointUnserializable', 'tensor #{index}: name must be a string'),
  layoutReservedName: msg('checkpointUnserializable', 'a tensor cannot be named "__metadata__" (reserved by the safetensors header)'),
  layoutNameUnicode: msg('checkpointUnserializable', 'tensor name {name} is not valid Unicode (lone surrogate)'),
  layoutDuplicateName: msg('checkpointUnserializable', 'duplicate tensor name {name}'),
  layoutDtype: msg('checkpointUnserializable', 'tensor {name}: unsupported dtype {dtype}'),
  layoutShapeTooLarge: msg('checkpointUnserializable', 'tensor {name}: shape [{shape}] is too large'),
  layoutNbytes: msg('checkpointUnserializable', 'tensor {name}: nbytes {nbytes} does not match {dtype} [{shape}] ({expected} bytes)'),
  layoutMetadataValue: msg('checkpointUnserializable', '__metadata__ value for {key} must be a string, got {type}'),
  layoutMetadataUnicode: msg('checkpointUnserializable', '__metadata__ entry {key} is not valid Unicode (lone surrogate)'),
  layoutDataTooLarge: msg('checkpointUnserializable', 'total tensor size exceeds 2^53 bytes'),
  layoutFileTooLarge: msg('checkpointUnserializable', 'file size exceeds 2^53 bytes'),
  maxShardSize: msg('badRequest', 'max_shard_size must be a non-negative integer number of bytes, got {value}'),
  totalParameters: msg('badRequest', 'total_parameters must be a non-negative integer, got {value}')
} as const satisfies Record<string, ErrorMessage>

export type MessageName = keyof typeof errorMessages

/** The `{name}` placeholders of a template, as a parameter object type (a brace around other text, as in an example of JSON, is text). */
type Placeholder<P extends string> = P extends `${string}${' ' | '"' | ':' | ',' | "'"}${string}` ? never : P
type Placeholders<T extends string> = T extends `${string}{${infer P}}${infer Rest}` ? Placeholder<P> | Placeholders<Rest> : never
export type MessageParams<N extends MessageName> = { readonly [K in Placeholders<(typeof errorMessages)[N]['template']>]: string | number }

/** Fills a template; a placeholder without a parameter is a bug, so it throws. */
export function formatMessage (template: string, params: Readonly<Record<string, string | number>>): string {
  return template.replace(/\{(\w+)\}/g, (_m, key: string) => {
    const v = params[key]
    if (v === undefined) throw new Error(`internal: no parameter '${key}' for message '${template}'`)
    return String(v)
  })
}

/** An error that carries its HTTP status and stable code, so handlers never map by instanceof. */
export class MateriaError extends Error {
  readonly statusCode: number
  readonly code: string
  readonly headers: Record<string, string> | undefined

  constructor (name: ErrorName, message: string, headers?: Record<string, string>) {
    super(message)
    const d = errorDefs[name]
    this.name = 'MateriaError'
    this.statusCode = d.statusCode
    this.code = d.code
    this.headers = headers
  }
}

/** The error `name` of errorMessages: its code and status, its template filled from `params`. */
export function materiaError<N extends MessageName> (name: N, params: MessageParams<N>, headers?: Record<string, string>): MateriaError {
  const m: ErrorMessage = errorMessages[name]
  return new MateriaError(m.error, formatMessage(m.template, params), headers)
}

export interface ErrorBody {
  statusCode: number
  code: string
  error: string
  message: string
}

export function errorBody (statusCode: number, code: string, message: string): ErrorBody {
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message }
}

export const allErrorDefs: readonly ErrorDef[] = Object.values(errorDefs)
