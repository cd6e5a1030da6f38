import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/vitest/**/*.test.mjs'],
    globalSetup: ['./test/vitest/global-setup.mjs'],
    testTimeout: 30000,
    hookTimeout: 60000,
  },
})
