// The one list of transformers classes: the config classes, and the module definitions of the
// models built from them (registered with torch.nn's in src/nn/registry.ts).
import type { AnyModuleDef } from '../define.js'
import type { ConfigDef } from './config.js'
import { defs as bert, bertConfig } from './bert.js'
import { defs as gemma2, gemma2Config } from './gemma2.js'
import { defs as gemma3, gemma3TextConfig } from './gemma3.js'
import { defs as gpt2, gpt2Config } from './gpt2.js'
import { defs as llama, llamaConfig } from './llama.js'
import { defs as mistral, mistralConfig } from './mistral.js'
import { defs as mixtral, mixtralConfig } from './mixtral.js'
import { defs as phi3, phi3Config } from './phi3.js'
import { defs as qwen, qwen2Config, qwen3Config } from './qwen2.js'
import { defs as qwen3Moe, qwen3MoeConfig } from './qwen3-moe.js'
import { defs as t5, t5Config } from './t5.js'

export const TRANSFORMERS_MODULE_DEFS: readonly AnyModuleDef[] = [...bert, ...gemma2, ...gemma3, ...gpt2, ...llama, ...mistral, ...mixtral, ...phi3, ...qwen, ...qwen3Moe, ...t5]

export const CONFIG_DEFS: readonly ConfigDef[] = [bertConfig, gemma2Config, gemma3TextConfig, gpt2Config, llamaConfig, mistralConfig, mixtralConfig, phi3Config, qwen2Config, qwen3Config, qwen3MoeConfig, t5Config]
