#!/usr/bin/env node
// Start dynalite or kinesalite in memory on a loopback port and print the port once listening.
//
//   node serve.js dynalite|kinesalite [--host 127.0.0.1] [--port 0]
//
// Prints one JSON line, {"name": ..., "host": ..., "port": ...}, when the server accepts
// connections, then serves until stdin closes (so the emulator never outlives the Python
// process that started it, even one killed with SIGKILL) or a SIGTERM/SIGINT arrives.
'use strict'

var argv = require('minimist')(process.argv.slice(2), { string: ['host'] })
var name = argv._[0]
var host = argv.host || '127.0.0.1'
var port = argv.port === undefined ? 0 : Number(argv.port)

// State changes (CREATING -> ACTIVE, DELETING) happen at once: the tests need no waiting.
var options = {
  dynalite: { createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 },
  kinesalite: { createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 10000 },
}[name]
if (!options) {
  console.error('usage: node serve.js dynalite|kinesalite [--host HOST] [--port PORT]')
  process.exit(2)
}

var server = require(name)(options)
server.listen(port, host, function () {
  var address = server.address()
  process.stdout.write(JSON.stringify({ name: name, host: address.address, port: address.port }) + '\n')
})
server.on('error', function (err) {
  console.error(name + ': ' + err.message)
  process.exit(1)
})

function stop () { process.exit(0) }
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
process.stdin.on('end', stop)
process.stdin.on('error', stop)
process.stdin.resume()
