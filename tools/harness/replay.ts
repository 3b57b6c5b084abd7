// A reproduction a virtiofsd developer runs without this project: a bash
// script whose `op` command is one syscall per line (perl, which every
// Linux host has), printing the result in the harness's own words (ok,
// "ok N", "ok N sum=X" for reads, or the errno name). Run it in an empty
// directory of the host filesystem and in one of the virtiofs mount; the
// outputs differ where the harness found a difference.

import { formatOp, type Op } from './ops';

// No single quote inside: it sits in a single-quoted shell variable.
export const OP_PL = String.raw`
use strict; use warnings; use Fcntl; use Errno; use POSIX ();
my @a = @ARGV; my $line = join(" ", @a); my ($uid, $gid, $mask);
while (@a && $a[0] =~ /^-[um]$/) {
  my ($f, $v) = (shift @a, shift @a);
  if ($f eq "-u") { ($uid, $gid) = split /:/, $v } else { $mask = oct $v }
}
umask(defined $mask ? $mask : 022);
if (defined $uid) {
  POSIX::setgid($gid) or die "setgid: $!"; $) = "$gid $gid";
  POSIX::setuid($uid) or die "setuid: $!";
}
my $op = shift @a;
my $x = $ENV{X} // "/dev/shm/virtiofs-harness-x";
my $p = sub { my $s = shift; $s =~ s{^\@x(?=/|$)}{$x}; $s };
my $res;
my $arch = (POSIX::uname())[4];
my %nr = $arch eq "x86_64" ? (unlinkat => 263, renameat2 => 316) : (unlinkat => 35, renameat2 => 276);
my %do = (
  mkdir => sub { mkdir($p->($_[0]), oct $_[1]) },
  rmdir => sub { rmdir($p->($_[0])) },
  create => sub { my $f; sysopen($f, $p->($_[0]), O_CREAT | O_WRONLY | ($_[2] eq "excl" ? O_EXCL : O_TRUNC), oct $_[1]) and close($f) },
  write => sub {
    my ($path, $off, $len, $seed) = @_;
    sysopen(my $f, $p->($path), O_WRONLY) or return 0;
    my $d = join "", map { chr(($seed * 131 + $_ + ($_ >> 8) * 7) & 255) } 0 .. $len - 1;
    defined(sysseek($f, $off, 0)) or return 0;
    my $n = syswrite($f, $d); defined $n or return 0;
    close($f); $res = "ok $n"; 1 },
  truncate => sub { truncate($p->($_[0]), $_[1]) },
  read => sub {
    my ($path, $off, $len) = @_;
    sysopen(my $f, $p->($path), O_RDONLY) or return 0;
    defined(sysseek($f, $off, 0)) or return 0;
    my $b = "";
    while (length($b) < $len) { my $n = sysread($f, $b, $len - length($b), length($b)); defined $n or return 0; last if $n == 0 }
    my $s = 0; my $i = 0;
    for my $c (unpack("C*", $b)) { $s = ($s + $c * ++$i) % 4294967296 }
    $res = sprintf("ok %d sum=%08x", length($b), $s); 1 },
  # unlink(2) itself: the unlink builtin refuses a directory before asking the kernel.
  unlink => sub { syscall($nr{unlinkat}, -100, $p->($_[0]), 0) == 0 },
  link => sub { link($p->($_[0]), $p->($_[1])) },
  symlink => sub { symlink($_[0], $p->($_[1])) },
  rename => sub {
    return rename($p->($_[0]), $p->($_[1])) unless $_[2];
    syscall($nr{renameat2}, -100, $p->($_[0]), -100, $p->($_[1]), $_[2] eq "noreplace" ? 1 : 2) == 0 },
  chmod => sub { chmod(oct $_[1], $p->($_[0])) },
  chown => sub { chown($_[1], $_[2], $p->($_[0])) },
  stat => sub { lstat($p->($_[0])) },
);
die "unknown op $op" unless $do{$op};
if ($do{$op}->(@a)) { $res //= "ok" } else { ($res) = grep { $!{$_} } keys %!; $res //= "errno " . ($! + 0) }
print "$line => $res\n";
`;

export interface ReplayLine { op: Op; host?: string; guest?: string }

export interface ReplaySection { title: string; lines: readonly ReplayLine[] }

/** The script: the `op` command, then each section in a fresh directory of
 *  its own, one line per op with both sides' results. */
export function replayScript(sections: readonly ReplaySection[], header: readonly string[]): string {
  const out = [
    '#!/bin/bash',
    ...header.map((h) => `# ${h}`),
    '# Run as root in an empty directory of the host filesystem, then in one of the',
    '# virtiofs mount; each line prints "op ... => RESULT". "@x" is $X, a directory on',
    '# another filesystem (on the host: /dev/shm/virtiofs-harness-x by default; in the',
    '# guest: a directory of the share that is a mount point on the host).',
    `OP_PL='${OP_PL.trim()}'`,
    'op() { perl -e "$OP_PL" -- "$@"; }',
    'X0=${X:-/dev/shm/virtiofs-harness-x}',
  ];
  sections.forEach((s, k) => {
    const d = `r${k + 1}`;
    out.push(`# ${s.title}`, `mkdir ${d} && cd ${d} && export X="$X0/${d}" && mkdir -p "$X" || exit 1`);
    for (const l of s.lines) {
      const note = l.host === undefined ? '' : l.host === l.guest ? `  # ${l.host}` : `  # host: ${l.host}, guest: ${l.guest}  <--`;
      out.push(`${formatOp(l.op)}${note}`);
    }
    out.push('cd ..');
  });
  return `${out.join('\n')}\n`;
}

/** A script's `op` definition and the rest (the table prints the definition once). */
export function splitScript(script: string): { preamble: string; body: string } {
  const lines = script.trimEnd().split('\n');
  const from = lines.findIndex((l) => l.startsWith('OP_PL='));
  const to = lines.findIndex((l) => l.startsWith('op() {'));
  if (from < 0 || to < from) return { preamble: '', body: script };
  return { preamble: lines.slice(from, to + 1).join('\n'), body: [...lines.slice(0, from), ...lines.slice(to + 1)].join('\n') };
}
