// libp2p 3 calls Promise.withResolvers, which Node 20 lacks. Import this module before libp2p's.
const P = Promise as unknown as { withResolvers?: () => unknown }
P.withResolvers ??= () => {
  let resolve, reject
  const promise = new Promise((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}
export {}
