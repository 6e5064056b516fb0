// Buffered writes to standard output for line-per-packet output: one write
// call per ~64 KiB instead of one per line. A closed pipe (`| head`) ends
// the process quietly, as tcpdump does, instead of with EPIPE.
import {writeSync} from 'node:fs'

export class LineWriter {
  private parts: string[] = []
  private size = 0

  line(s: string): void {
    this.parts.push(s, '\n')
    this.size += s.length + 1
    if (this.size >= 65536) this.flush()
  }

  /** Text with no newline added. */
  text(s: string): void {
    this.parts.push(s)
    this.size += s.length
    if (this.size >= 65536) this.flush()
  }

  flush(): void {
    if (this.parts.length === 0) return
    const text = this.parts.join('')
    this.parts = []
    this.size = 0
    writeAll(text)
  }
}

function writeAll(text: string): void {
  const buf = Buffer.from(text, 'utf8')
  let off = 0
  while (off < buf.length) {
    try {
      off += writeSync(1, buf, off, buf.length - off)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === 'EAGAIN') continue // stdout is a non-blocking pipe that is full: retry
      if (code === 'EPIPE') process.exit(0)
      throw e
    }
  }
}
