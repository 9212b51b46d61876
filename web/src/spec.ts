// What the spec field sends: a JSON module spec as it is, anything else as the Python form
// `{"python": text}` (docs: README "Specs written as Python"); the service says what it refuses.

export function specBody (text: string): unknown {
  try {
    const v = JSON.parse(text) as unknown
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v
  } catch {}
  return { python: text }
}

/**
 * A form field's text as an argument value: JSON, or the Python literals people type
 * (`True`, `None`, `(3, 3)`, `'relu'`); anything else is taken as a string.
 */
export function argValue (text: string): unknown {
  const t = text.trim()
  try { return JSON.parse(t) as unknown } catch {}
  const py = t.replace(/\bTrue\b/g, 'true').replace(/\bFalse\b/g, 'false').replace(/\bNone\b/g, 'null')
    .replace(/\(/g, '[').replace(/,?\s*\)/g, ']').replace(/'([^'"]*)'/g, '"$1"')
  try { return JSON.parse(py) as unknown } catch {}
  return t
}
