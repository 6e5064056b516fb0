// The capture-file layer: pcap / pcapng streaming readers and writers.
export * from './types.js'
export {ParsedPacket} from './stream-parser.js'
export {PcapParser} from './pcap-parser.js'
export {PcapngParser} from './pcapng-parser.js'
export {CaptureParser, sniffFormat} from './parser.js'
export {readCapture, readCaptureSync, displayName, type ReadResult, type ReadOptions} from './read.js'
export {PcapWriter, type PcapWriterOptions} from './pcap-writer.js'
export {PcapngWriter, type WriterInterface, type PcapngWriterOptions, type PacketExtras} from './pcapng-writer.js'
