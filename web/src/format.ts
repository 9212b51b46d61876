// Numbers as people read them: bytes in binary units (PyTorch and accelerate report GiB), counts grouped.

const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

export function formatBytes (n: number): string {
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i] ?? ''}`
}

export function formatCount (n: number): string {
  return n.toLocaleString('en-US')
}

export function formatShape (shape: readonly number[]): string {
  return `[${shape.join(', ')}]`
}
