/**
 * The clean stage's settings: the config's `clean` section. Its fields, their docs, defaults and
 * rules are configs/schema.json's (StarCoder's preprocessing); this module only resolves a partial
 * section against them, as validateConfig does for the pipeline.
 */
import { ErrorType, fatal } from '../../contracts/errors.js';
import { schemaDefaults } from '../../lib/config/defaults.js';
import type { CleanConfig } from '../../lib/config/types.js';
import { ConfigError, validateSection } from '../../lib/config/validate.js';

/** The clean section, every field resolved. */
export type CleanParams = CleanConfig;

/** The schema's defaults (a fresh copy: changing it changes nothing else). */
export const DEFAULT_CLEAN_PARAMS: CleanParams = schemaDefaults('clean');

/**
 * Fields checked against the schema's `clean` section and resolved against its defaults; an
 * unknown or ill-typed field fails (KilnInvalidConfig) with the field's name. Undefined fields
 * take their default (the kiln CLI passes its unset flags so).
 */
export function resolveCleanParams(params: Partial<CleanParams> = {}): CleanParams {
  let out: CleanParams;
  try {
    out = validateSection('clean', params);
  } catch (err) {
    if (err instanceof ConfigError) throw fatal(ErrorType.InvalidConfig, err.message);
    throw err;
  }
  // Extensions are matched in lower case, without the dot.
  const bareExtension = (ext: string) => ext.toLowerCase().replace(/^\./, '');
  out.perExtension = Object.fromEntries(Object.entries(out.perExtension).map(([ext, t]) => [bareExtension(ext), t]));
  out.xmlHeaderExemptExtensions = out.xmlHeaderExemptExtensions.map(bareExtension);
  return out;
}
