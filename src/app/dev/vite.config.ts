// Builds the panels dev page on its own (production React) for screenshots and frame timings:
//   npx vite build -c src/app/dev/vite.config.ts && npx vite preview -c src/app/dev/vite.config.ts
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import tailwindcss from '@tailwindcss/vite';

export default defineConfig({
  // The root stays the repository's, so Tailwind finds the classes the panels use (it scans from the root).
  plugins: [react(), tailwindcss()],
  build: {
    outDir: '/tmp/ui-panels-dist',
    emptyOutDir: true,
    target: 'es2022',
    rollupOptions: { input: process.env.DEV_ENTRY ?? 'src/app/dev/panels.html' },
  },
  preview: { port: 4274, strictPort: true },
});
