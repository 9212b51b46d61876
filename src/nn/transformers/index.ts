// The one list of transformers classes: the config classes, and the module definitions of the
// models built from them (registered with torch.nn's in src/nn/registry.ts).
import type { AnyModuleDef } from '../define.js'
import type { ConfigDef } from './config.js'
import { defs as gemma2, gemma2Config } from './gemma2.js'
import { defs as gpt2, gpt2Config } from './gpt2.js'
import { defs as llama, llamaConfig } from './llama.js'
import { defs as mistral, mistralConfig } from './mistral.js'
import { defs as mixtral, mixtralConfig } from './mixtral.js'
import { defs as phi3, phi3Config } from './phi3.js'
import { defs as qwen, qwen2Config, qwen3Config } from './qwen2.js'
import { defs as qwen3Moe, qwen3MoeConfig } from './qwen3-moe.js'

export const TRANSFORMERS_MODULE_DEFS: readonly AnyModuleDef[] = [...gemma2, ...gpt2, ...llama, ...mistral, ...mixtral, ...phi3, ...qwen, ...qwen3Moe]

export const CONFIG_DEFS: readonly ConfigDef[] = [gemma2Config, gpt2Config, llamaConfig, mistralConfig, mixtralConfig, phi3Config, qwen2Config, qwen3Config, qwen3MoeConfig]
