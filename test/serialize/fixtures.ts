// Shared loader for the golden safetensors fixtures (written by
// scripts/golden/make-safetensors-fixtures.py with safetensors 0.8.0).
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { DType } from '../../src/tensor/dtype.js'

export const FIXTURES = fileURLToPath(new URL('../fixtures/safetensors/', import.meta.url))

export interface ManifestTensor {
  name: string
  dtype: DType
  shape: number[]
  hex: string
  tiedTo?: string
}

export interface ManifestFile {
  file: string
  writer: string
  metadata: Record<string, string> | null
  tiedAliasesInMetadata?: boolean
  tensors: ManifestTensor[]
}

export interface Manifest {
  generator: Record<string, string>
  files: ManifestFile[]
  index: { file: string, input: { metadata: { total_parameters?: number, total_size: number }, weight_map: Record<string, string> } }
  emptyIndex: { file: string, input: { metadata: { total_size: number }, weight_map: Record<string, string> } }
}

export interface ReaderCase {
  description: string
  hex: string
  python: { ok: boolean, error?: string }
}

export function fixture (name: string): Buffer {
  return readFileSync(FIXTURES + name)
}

export function manifest (): Manifest {
  return JSON.parse(fixture('manifest.json').toString('utf8')) as Manifest
}

export function readerCases (): ReaderCase[] {
  return JSON.parse(fixture('reader-cases.json').toString('utf8')) as ReaderCase[]
}
