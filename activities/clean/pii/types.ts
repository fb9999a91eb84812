/** The PII entity types kiln redacts, their placeholders and the span shape every detector returns. */
export const PII_TYPES = ['EMAIL', 'IP_ADDRESS', 'KEY', 'PASSWORD'] as const;
export type PiiType = (typeof PII_TYPES)[number];

export interface PiiEntity {
  type: PiiType;
  /** UTF-16 offset of the first code unit. */
  start: number;
  /** UTF-16 offset after the last code unit. */
  end: number;
}

/** The placeholders BigCode's StarCoder pipeline used (and the field follows). */
export const PII_PLACEHOLDERS: Record<PiiType, string> = {
  EMAIL: '<EMAIL>',
  IP_ADDRESS: '<IP_ADDRESS>',
  KEY: '<KEY>',
  PASSWORD: '<PASSWORD>',
};
