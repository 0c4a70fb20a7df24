import { QueryClientProvider } from '@tanstack/react-query';
import { useState } from 'react';
import { BrowserRouter, Route, Routes } from 'react-router';
import { AdminPage } from './features/admin/admin-page.tsx';
import { AccountPage } from './features/auth/account-page.tsx';
import { MagicLinkPage } from './features/auth/magic-link-page.tsx';
import { SignInPage } from './features/auth/sign-in-page.tsx';
import { SignUpPage } from './features/auth/sign-up-page.tsx';
import { BillingPage } from './features/billing/billing-page.tsx';
import { ChatPage } from './features/chat/chat-page.tsx';
import { AppShell } from './features/shell/app-shell.tsx';
import { NotFoundPage } from './features/shell/not-found-page.tsx';
import { UsagePage } from './features/usage/usage-page.tsx';
import { createQueryClient } from './lib/query-client.ts';

export function App() {
  const [queryClient] = useState(createQueryClient);
  return (
    <QueryClientProvider client={queryClient}>
      <BrowserRouter>
        <Routes>
          <Route path="/sign-up" element={<SignUpPage />} />
          <Route path="/sign-in" element={<SignInPage />} />
          <Route path="/magic-link" element={<MagicLinkPage />} />
          <Route element={<AppShell />}>
            <Route index element={<ChatPage />} />
            <Route path="usage" element={<UsagePage />} />
            <Route path="billing" element={<BillingPage />} />
            <Route path="admin" element={<AdminPage />} />
            <Route path="account" element={<AccountPage />} />
          </Route>
          <Route path="*" element={<NotFoundPage />} />
        </Routes>
      </BrowserRouter>
    </QueryClientProvider>
  );
}
