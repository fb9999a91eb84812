import { streamToFileAtomic } from './lib/storage/fileStore.js';
import { Readable } from 'node:stream';
async function* bad() { yield new Uint8Array([1,2]); throw Object.assign(new Error('boom'), {code: 'ECONNRESET'}); }
try { await streamToFileAtomic(bad(), '/tmp/kiln-x/y.bin', { sourceError: (e) => new Error('SOURCE: ' + (e as Error).message) }); } catch (e) { console.log('1', (e as Error).message); }
const r = new Readable({ read() { this.push(Buffer.from('ab')); setTimeout(() => this.destroy(Object.assign(new Error('reset'), {code:'ECONNRESET'})), 5); } });
try { await streamToFileAtomic(r, '/tmp/kiln-x/z.bin', { sourceError: (e) => new Error('SOURCE: ' + (e as Error).message) }); } catch (e) { console.log('2', (e as Error).message); }
try { await streamToFileAtomic(Readable.from([Buffer.from('x')]), '/proc/kiln-nope/z.bin', { sourceError: (e) => new Error('SOURCE: ' + (e as Error).message) }); } catch (e) { console.log('3', (e as any).type, (e as Error).message); }
try { await streamToFileAtomic(Readable.from([Buffer.from('x')]), '/tmp/kiln-x/s.bin', { expectedBytes: 5 }); } catch (e) { console.log('4', (e as any).name, (e as Error).message); }
import { readdirSync } from 'node:fs'; console.log(readdirSync('/tmp/kiln-x'));
