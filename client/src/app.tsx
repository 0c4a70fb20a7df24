// Shared component styles first: feature stylesheets imported below build on them.
import './components/components.css';
import { QueryClientProvider } from '@tanstack/react-query';
import { lazy, Suspense, useState } from 'react';
import { BrowserRouter, Outlet, Route, Routes } from 'react-router';
import { AccountPage } from './features/auth/account-page.tsx';
import { MagicLinkPage } from './features/auth/magic-link-page.tsx';
import { SignInPage } from './features/auth/sign-in-page.tsx';
import { SignUpPage } from './features/auth/sign-up-page.tsx';
import { VerifyEmailPage } from './features/auth/verify-email-page.tsx';
import { BillingPage } from './features/billing/billing-page.tsx';
import { ChatPage } from './features/chat/chat-page.tsx';
import { AppShell } from './features/shell/app-shell.tsx';
import { NotFoundPage } from './features/shell/not-found-page.tsx';
import { RequireSession } from './features/shell/require-session.tsx';
import { UsagePage } from './features/usage/usage-page.tsx';
import { createQueryClient } from './lib/query-client.ts';
import { PageLoading } from './components/spinner.tsx';

// The planner (and its chart library) loads only when someone opens it.
const PlannerPage = lazy(() => import('./features/planner/planner-page.tsx').then((m) => ({ default: m.PlannerPage })));
// Likewise the Admin tab, which only staff open.
const AdminPage = lazy(() => import('./features/admin/admin-page.tsx').then((m) => ({ default: m.AdminPage })));

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
            <Route
              path="planner"
              element={
                <Suspense fallback={<PageLoading label="Loading the planner…" />}>
                  <PlannerPage />
                </Suspense>
              }
            />
            <Route
              element={
                <RequireSession>
                  <Outlet />
                </RequireSession>
              }
            >
              <Route path="usage" element={<UsagePage />} />
              <Route path="billing" element={<BillingPage />} />
              <Route
                path="admin"
                element={
                  <Suspense fallback={<PageLoading label="Loading the admin tools…" />}>
                    <AdminPage />
                  </Suspense>
                }
              />
              <Route path="account" element={<AccountPage />} />
            </Route>
          </Route>
          <Route path="*" element={<NotFoundPage />} />
        </Routes>
      </BrowserRouter>
    </QueryClientProvider>
  );
}
