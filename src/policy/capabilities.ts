/**
 * Capabilities added back on top of CapDrop ALL: what sshd (privilege
 * separation, chroot, setuid to the user) and a package manager (chown, file
 * ownership) need, and nothing more.
 */
export const BASE_CAPABILITIES = [
  'SETUID',
  'SETGID',
  'SYS_CHROOT',
  'NET_BIND_SERVICE',
  'CHOWN',
  'KILL',
  'AUDIT_WRITE',
  'DAC_OVERRIDE',
  'FOWNER',
] as const;
