/**
 * `help ...`, `--help` or `-h` as the first word: answered without a user or
 * a database. Its own module so that the small door entries can ask without
 * loading the commands.
 */
export const isHelpRequest = (words: string[]): boolean => ['help', '--help', '-h'].includes(words[0] ?? '');
