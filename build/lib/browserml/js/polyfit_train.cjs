#!/usr/bin/env node
/**
 * Lesson 1's training loop in TF.js, line for line the talk's Ops API program:
 * one tf.variable per coefficient, f(x) with mul/add, an MSE loss and
 * optimizer.minimize in a loop. Used to check Python against TF.js on the same data
 * and start, and by the benchmark to time both.
 *
 *   node polyfit_train.cjs --config CONFIG.json [--backend cpu|wasm]
 *   CONFIG: {"x": [...], "y": [...], "init": [a, b, c], "learning_rate": 0.5, "iterations": 75}
 */
'use strict';
const tf = require('@tensorflow/tfjs');
const { useBackend, readConfig, runMain } = require('./node_support.cjs');

runMain('polyfit_train', async function (args) {
  const config = readConfig(args);
  await useBackend(tf, args.backend || 'cpu');

  const xs = tf.tensor1d(config.x);
  const ys = tf.tensor1d(config.y);
  const coeffs = config.init.map((v) => tf.variable(tf.scalar(v)));
  // f(x) = a·xⁿ + … : Horner's rule with ops, as the talk's a.mul(x.square()).add(b.mul(x)).add(c)
  const f = (x) => coeffs.slice(1).reduce((y, c) => y.mul(x).add(c), tf.zerosLike(x).add(coeffs[0]));
  const loss = (pred, label) => pred.sub(label).square().mean();
  const optimizer = tf.train.sgd(config.learning_rate);

  const losses = [];
  const t0 = Date.now();
  for (let i = 0; i < config.iterations; i++) {
    const cost = optimizer.minimize(() => loss(f(xs), ys), /* returnCost */ true);
    losses.push(cost.dataSync()[0]);
    cost.dispose();
  }
  const trainMs = Date.now() - t0;
  const result = {
    coeffs: coeffs.map((c) => c.dataSync()[0]),
    losses: losses,
    train_ms: trainMs,
    backend: tf.getBackend(),
    tfjs_version: tf.version.tfjs,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
});

