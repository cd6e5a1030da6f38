// @medusajs/types imports types of packages a Medusa app installs and this package does
// not (for its config types only); declared opaque here so its declarations check.
// skipLibCheck stays off: it would also skip lib/index.d.ts and medusa/index.d.ts,
// the very files under test.
declare module 'jsonwebtoken' {
  export type Secret = unknown
  export type SignOptions = unknown
  export type VerifyOptions = unknown
}
declare module 'ioredis' {
  export type RedisOptions = unknown
}
declare module 'vite' {
  export type InlineConfig = unknown
}
