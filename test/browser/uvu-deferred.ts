// Imported before uvu: a deferred uvu queues each suite's run() instead of starting it on a timer,
// so that the page starts them with exec() and knows when they end.
Object.assign(globalThis, { UVU_DEFER: 1, UVU_QUEUE: [[null]] })
