/**
 * The SDK's dotenv, as tests in this process see it: it reads nothing. Its loader reads `.env`
 * from the working directory, the repository, where the README has a user write one (their
 * settings, or the sandbox's); the tests must not depend on it. Tests of how `.env` is read run
 * the CLI and `npm start` as processes, which load the real dotenv.
 */
module.exports = {
  config: () => ({ parsed: {} }),
  parse: jest.requireActual('dotenv').parse,
};
