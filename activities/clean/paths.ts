/**
 * Path rules: vendored directories (copies of other projects) and files that tools write
 * (protobuf and gRPC stubs, lockfiles, bundles in dist/ or build/, minified assets). Matched on
 * the repository path with string tests, no regex backtracking.
 */

/** The first path segment that names a vendored directory (case-insensitive), or null. */
export function vendoredDir(path: string, dirs: readonly string[]): string | null {
  const segments = path.split('/');
  segments.pop(); // the file name itself
  for (const segment of segments) {
    const lower = segment.toLowerCase();
    for (const dir of dirs) if (lower === dir.toLowerCase()) return segment;
  }
  return null;
}

/** Lockfiles of package managers: whole file names. */
export const LOCKFILES = new Set([
  'package-lock.json',
  'npm-shrinkwrap.json',
  'yarn.lock',
  'pnpm-lock.yaml',
  'bun.lock',
  'cargo.lock',
  'poetry.lock',
  'pipfile.lock',
  'pdm.lock',
  'uv.lock',
  'composer.lock',
  'gemfile.lock',
  'podfile.lock',
  'pubspec.lock',
  'mix.lock',
  'go.sum',
  'flake.lock',
  'packages.lock.json',
  'paket.lock',
  'gradle.lockfile',
]);

/** Suffixes of generated sources: protobuf / gRPC / flatbuffers outputs, other code generators. */
export const GENERATED_SUFFIXES = [
  '_pb2.py',
  '_pb2.pyi',
  '_pb2_grpc.py',
  '.pb.go',
  '.pb.gw.go',
  '_grpc.pb.go',
  '.pb.cc',
  '.pb.h',
  '.pb.c',
  '.pb-c.c',
  '.pb-c.h',
  '.pb.swift',
  '.pb.dart',
  '_pb.js',
  '_pb.d.ts',
  '_grpc_pb.js',
  '_grpc_pb.d.ts',
  '_generated.h',
  '.g.dart',
  '.freezed.dart',
  '.designer.cs',
  '.g.cs',
];

/** Suffixes of built front-end assets. */
export const BUNDLE_SUFFIXES = ['.min.js', '.min.mjs', '.min.css', '.bundle.js', '.chunk.js', '.chunk.css', '.js.map', '.css.map'];

/**
 * Directories whose JS/CSS files are build outputs. Not `build/`: it holds build scripts as often
 * as outputs (`build/webpack.config.js`); minified outputs there are caught by their content.
 */
const BUILD_DIRS = new Set(['dist']);
const BUILD_DIR_EXTENSIONS = ['.js', '.mjs', '.cjs', '.css'];

/** Why a path looks tool-written (`lockfile`, `protobuf`...), or null. */
export function generatedPathReason(path: string): string | null {
  const lower = path.toLowerCase();
  const slash = lower.lastIndexOf('/');
  const name = lower.slice(slash + 1);
  if (LOCKFILES.has(name)) return 'lockfile';
  for (const suffix of GENERATED_SUFFIXES) if (name.endsWith(suffix)) return 'generated source';
  if (name.startsWith('zz_generated.')) return 'generated source'; // Kubernetes code generators
  for (const suffix of BUNDLE_SUFFIXES) if (name.endsWith(suffix)) return 'bundle';
  if (BUILD_DIR_EXTENSIONS.some((ext) => name.endsWith(ext))) {
    const segments = lower.split('/');
    for (let i = 0; i < segments.length - 1; i++) if (BUILD_DIRS.has(segments[i]!)) return 'bundle';
  }
  return null;
}
