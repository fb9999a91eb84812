/**
 * Number formatting shared by the report's charts and tables. Deterministic: the same number
 * always gives the same text, with no locale dependence.
 */

const SI_PREFIXES: [number, string][] = [
  [1e15, 'P'],
  [1e12, 'T'],
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
];

/** Up to `digits` significant digits, trailing zeros dropped: 1.50 -> "1.5", 2.0 -> "2". */
export function trimNumber(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return '0';
  const text = Number(value.toPrecision(digits)).toString();
  return text.includes('e') ? expNotation(value, digits) : text;
}

function expNotation(value: number, digits: number): string {
  const [mantissa, exponent] = value.toExponential(digits - 1).split('e');
  const m = mantissa.includes('.') ? mantissa.replace(/0+$/, '').replace(/\.$/, '') : mantissa;
  return `${m}e${Number(exponent)}`;
}

/** Axis-tick style: 1500 -> "1.5k", 2e6 -> "2M", 0.25 -> "0.25", 3e-4 -> "3e-4". */
export function formatSi(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs === 0) return '0';
  for (const [scale, prefix] of SI_PREFIXES) {
    if (abs >= scale) return trimNumber(value / scale, digits) + prefix;
  }
  if (abs < 1e-3) return expNotation(value, Math.min(digits, 2));
  return trimNumber(value, digits);
}

/** Decimal bytes: 1234 -> "1.23 kB", 5e6 -> "5 MB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  if (Math.abs(bytes) < 1000) return `${Math.round(bytes)} B`;
  return formatSi(bytes).replace(/([kMGTP])$/, ' $1B');
}

/** Grouped integer: 1234567 -> "1,234,567" (no locale). */
export function formatCount(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const rounded = Math.round(value);
  const sign = rounded < 0 ? '-' : '';
  return sign + String(Math.abs(rounded)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** part/whole as a percentage with one decimal ("12.5%"); "–" when whole is 0. */
export function formatPercent(part: number, whole: number): string {
  if (!whole || !Number.isFinite(part) || !Number.isFinite(whole)) return '–';
  return `${(Math.round((1000 * part) / whole) / 10).toFixed(1)}%`;
}
