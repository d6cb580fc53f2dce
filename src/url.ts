/** Whether `value` parses as a URL with one of `schemes` (each with its colon, e.g. 'http:'). */
export function hasScheme(value: unknown, schemes: readonly string[]): boolean {
  try {
    return typeof value === 'string' && schemes.includes(new URL(value).protocol);
  } catch {
    return false;
  }
}
