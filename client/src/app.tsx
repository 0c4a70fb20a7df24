// Shared component styles first: feature stylesheets imported below build on them.
import './components/components.css';
import { QueryClientProvider } from '@tanstack/react-query';
import { useState } from 'react';
import { BrowserRouter, Outlet, Route, Routes } from 'react-router';
import { ChatPage } from './features/chat/chat-page.tsx';
import { AppShell } from './features/shell/app-shell.tsx';
import { NotFoundPage } from './features/shell/not-found-page.tsx';
import { RequireSession } from './features/shell/require-session.tsx';
import { lazyPage } from './lib/lazy-page.tsx';
import { createQueryClient } from './lib/query-client.ts';

// The chat is the landing page and loads with the app; every other page loads on
// first visit (the planner and usage pages bring the chart library, sign-up the captcha).
const SignUpPage = lazyPage(() => import('./features/auth/sign-up-page.tsx'), 'SignUpPage', 'Loading…');
const SignInPage = lazyPage(() => import('./features/auth/sign-in-page.tsx'), 'SignInPage', 'Loading…');
const MagicLinkPage = lazyPage(() => import('./features/auth/magic-link-page.tsx'), 'MagicLinkPage', 'Loading…');
const VerifyEmailPage = lazyPage(() => import('./features/auth/verify-email-page.tsx'), 'VerifyEmailPage', 'Loading…');
const PlannerPage = lazyPage(() => import('./features/planner/planner-page.tsx'), 'PlannerPage', 'Loading the planner…');
const UsagePage = lazyPage(() => import('./features/usage/usage-page.tsx'), 'UsagePage', 'Loading your usage…');
const BillingPage = lazyPage(() => import('./features/billing/billing-page.tsx'), 'BillingPage', 'Loading billing…');
const AccountPage = lazyPage(() => import('./features/auth/account-page.tsx'), 'AccountPage', 'Loading your account…');
const AdminPage = lazyPage(() => import('./features/admin/admin-page.tsx'), 'AdminPage', 'Loading the admin tools…');

export function App() {
  const [queryClient] = useState(createQueryClient);
  return (
    <QueryClientProvider client={queryClient}>
      <BrowserRouter>
        <Routes>
          <Route path="/sign-up" element={<SignUpPage />} />
          <Route path="/sign-in" element={<SignInPage />} />
          <Route path="/magic-link" element={<MagicLinkPage />} />
          <Route path="/verify-email" element={<VerifyEmailPage />} />
          <Route element={<AppShell />}>
            {/* Open to visitors: their first message starts a guest session. */}
            <Route index element={<ChatPage />} />
            {/* Public: visitors can plan costs without a session. */}
            <Route path="planner" element={<PlannerPage />} />
            <Route
              element={
                <RequireSession>
                  <Outlet />
                </RequireSession>
              }
            >
              <Route path="usage" element={<UsagePage />} />
              <Route path="billing" element={<BillingPage />} />
              <Route path="admin" element={<AdminPage />} />
              <Route path="account" element={<AccountPage />} />
            </Route>
          </Route>
          <Route path="*" element={<NotFoundPage />} />
        </Routes>
      </BrowserRouter>
    </QueryClientProvider>
  );
}
