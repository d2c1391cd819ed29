import { AppError } from '../shared/errors.js';

/**
 * A registry file that cannot be imported: the HTTP status is the API's answer (413 too large,
 * 415 legacy .xls / another spreadsheet format, 422 unreadable), the CLI exits 1 on any of them.
 * `details` names what a person needs to fix the file or the profile (headers seen, fields missing).
 */
export class RegistryFileError extends AppError {
  constructor(code: string, message: string, httpStatus: 413 | 415 | 422, details?: Record<string, unknown>) {
    super(code, message, { httpStatus, details });
  }
}
