import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  base: "/app/",
  plugins: [react()],
  server: { proxy: { "/trpc": "http://127.0.0.1:8080" } },
});
