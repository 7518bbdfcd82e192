import "@mantine/core/styles.css";
import "./app.css";
import { QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { initialLanguage } from "./i18n";
import { queryClient, session, TRPCProvider, trpcClient } from "./trpc";

// the language first: taking the session clears the link's fragment, which may name it
const language = initialLanguage();
session.take();
createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        <App initialLanguage={language} />
      </TRPCProvider>
    </QueryClientProvider>
  </StrictMode>,
);
