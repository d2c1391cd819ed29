// Waits until the MySQL server of the URL in argv[2] answers; exits 1 after the timeout (argv[3] s).
import mysql from 'mysql2/promise';

const url = new URL(process.argv[2]);
const deadline = Date.now() + Number(process.argv[3] ?? 60) * 1000;
let lastError = '';
while (Date.now() < deadline) {
  try {
    const conn = await mysql.createConnection({
      host: url.hostname,
      port: Number(url.port || 3306),
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      connectTimeout: 3000,
    });
    const [rows] = await conn.query('select version() as v');
    console.log(`MySQL answers: ${rows[0].v}`);
    if (process.argv[4]) {
      await conn.query(`DROP DATABASE IF EXISTS \`${process.argv[4]}\``);
      await conn.query(`CREATE DATABASE \`${process.argv[4]}\` CHARACTER SET utf8mb4`);
    }
    await conn.end();
    process.exit(0);
  } catch (e) {
    lastError = e.message;
    await new Promise((r) => setTimeout(r, 1000));
  }
}
console.error(`MySQL at ${url.hostname}:${url.port || 3306} did not answer: ${lastError}`);
process.exit(1);
