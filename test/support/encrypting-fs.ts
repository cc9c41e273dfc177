/** The AES-256-CTR FileSystemAdaptor of the counter example, for the tests. */
export { EncryptingFileSystem } from "../../examples/counter/encrypting-fs.js";
