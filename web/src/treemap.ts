// Bytes by submodule as a squarified treemap (Bruls, Huizing, van Wijk, "Squarified Treemaps",
// 2000), drawn as SVG: the state_dict names' dotted paths are the tree, each tensor a leaf, tied
// aliases left out (their storage is counted once, under the name it is tied to).
import { s } from './dom.js'
import { formatBytes } from './format.js'
import type { TensorInfo } from './api.js'

export interface Rect { x: number, y: number, w: number, h: number }

export interface Tree { name: string, path: string, bytes: number, children: Tree[] }

export function bytesTree (tensors: readonly TensorInfo[]): Tree {
  const root: Tree = { name: '', path: '', bytes: 0, children: [] }
  for (const t of tensors) {
    if (t.tiedTo !== undefined) continue
    let node = root
    node.bytes += t.nbytes
    const parts = t.name.split('.')
    parts.forEach((part, i) => {
      let child = node.children.find((c) => c.name === part)
      if (child === undefined) {
        child = { name: part, path: parts.slice(0, i + 1).join('.'), bytes: 0, children: [] }
        node.children.push(child)
      }
      child.bytes += t.nbytes
      node = child
    })
  }
  return root
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0)

// the worst aspect ratio of a row of areas laid along a side of length `side`
function worst (row: readonly number[], side: number): number {
  const total = sum(row)
  const max = Math.max(...row)
  const min = Math.min(...row)
  return Math.max(side * side * max / (total * total), total * total / (side * side * min))
}

/** Rectangles tiling `box` with areas proportional to `sizes` (positive, largest first), in the same order. */
export function squarify (sizes: readonly number[], box: Rect): Rect[] {
  const total = sum(sizes)
  const areas = sizes.map((v) => total > 0 ? v * box.w * box.h / total : 0)
  const out: Rect[] = []
  let { x, y, w, h } = box
  let i = 0
  while (i < areas.length) {
    const side = Math.min(w, h)
    const row = [areas[i] ?? 0]
    let j = i + 1
    while (j < areas.length && worst([...row, areas[j] ?? 0], side) <= worst(row, side)) row.push(areas[j++] ?? 0)
    const thick = side > 0 ? sum(row) / side : 0
    let offset = 0
    for (const a of row) {
      const len = thick > 0 ? a / thick : 0
      // a column along the left edge when the box is wide, a row along the top when it is tall
      out.push(w >= h ? { x, y: y + offset, w: thick, h: len } : { x: x + offset, y, w: len, h: thick })
      offset += len
    }
    if (w >= h) { x += thick; w -= thick } else { y += thick; h -= thick }
    i = j
  }
  return out
}

const WIDTH = 960
const HEIGHT = 400
const HEADER = 16
const PAD = 2
const MAX_DEPTH = 4
// children drawn per node; the rest are one cell (a ModuleList of thousands stays drawable)
const MAX_CHILDREN = 200

/** The treemap of `tree` as an SVG element (every rectangle titled with its path and bytes). */
export function treemapSvg (tree: Tree): SVGElement {
  const svg = s('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-label': `Treemap of ${formatBytes(tree.bytes)} by submodule` })
  const draw = (node: Tree, box: Rect, depth: number, hue: number): void => {
    if (box.w < 1 || box.h < 1) return
    const label = `${node.path === '' ? '(module)' : node.path}: ${formatBytes(node.bytes)}`
    const leaf = node.children.length === 0 || depth >= MAX_DEPTH
    const g = s('g', { class: leaf ? 'leaf' : 'group', 'data-path': node.path })
    g.append(s('rect', { x: box.x, y: box.y, width: Math.max(0, box.w), height: Math.max(0, box.h), fill: `hsl(${hue} 55% ${Math.min(88, 52 + depth * 9)}%)` }, s('title', {}, label)))
    const name = node.name
    if (box.w > 40 && box.h > 13 && name !== '') {
      const fits = Math.floor((box.w - 6) / 7)
      g.append(s('text', { x: box.x + 3, y: box.y + 12 }, name.length > fits ? `${name.slice(0, Math.max(1, fits - 1))}…` : name))
    }
    svg.append(g)
    if (leaf) return
    const header = node.path === '' ? 0 : HEADER
    const inner = { x: box.x + PAD, y: box.y + header, w: box.w - 2 * PAD, h: box.h - header - PAD }
    if (inner.w < 4 || inner.h < 4) return
    const sorted = node.children.filter((c) => c.bytes > 0).sort((a, b) => b.bytes - a.bytes)
    const rest = sorted.slice(MAX_CHILDREN)
    const children = rest.length === 0 ? sorted : [...sorted.slice(0, MAX_CHILDREN), { name: `… ${rest.length} more`, path: `${node.path}.…`, bytes: rest.reduce((a, c) => a + c.bytes, 0), children: [] }]
    const rects = squarify(children.map((c) => c.bytes), inner)
    children.forEach((c, i) => {
      const r = rects[i]
      if (r !== undefined) draw(c, r, depth + 1, depth === 0 ? (i * 137.5) % 360 : hue)
    })
  }
  if (tree.bytes > 0) draw(tree, { x: 0, y: 0, w: WIDTH, h: HEIGHT }, 0, 210)
  return svg
}
