import { useMutation } from '@tanstack/react-query';
import { leaveAfterSignOut } from '../../lib/navigation.ts';
import { trpc } from '../../trpc.ts';

export function useSignOut() {
  return useMutation({
    mutationFn: () => trpc.auth.signOut.mutate(),
    onSuccess: () => leaveAfterSignOut('here'),
  });
}
