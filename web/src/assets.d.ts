// Vite's `?url` imports: the built file's URL (used for PDF.js's worker, a file of its own).
declare module '*?url' {
  const url: string;
  export default url;
}
