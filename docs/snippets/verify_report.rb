#!/usr/bin/env ruby
# frozen_string_literal: true

# Check that a completion report comes from zipper (see docs/reports.md). Ruby 2.5+, standard library only.
#
# Usage: ruby verify_report.rb SECRET X_ZIPPER_TIME X_ZIPPER_SIGNATURE BODY_FILE [NOW]
# Prints "authentic" and exits 0, or prints "REJECTED" and exits 1. NOW (unix seconds) defaults to the clock.

require 'openssl'

# body: the raw request body (a binary String), exactly as received, before any JSON parsing.
def zipper_report_authentic?(secret, time_header, signature, body, now: Time.now.to_i, max_skew: 300)
  return false unless time_header.match?(/\A[0-9]+\z/)
  return false if (now - time_header.to_i).abs > max_skew # replayed or badly delayed

  mac = OpenSSL::HMAC.digest('SHA256', secret, "#{time_header}\n".b + body.b)
  expected = [mac].pack('m0').tr('+/', '-_').delete('=')
  # Constant-time comparison of two equal-length strings.
  expected.bytesize == signature.bytesize &&
    expected.bytes.zip(signature.bytes).reduce(0) { |acc, (x, y)| acc | (x ^ y) }.zero?
end

if __FILE__ == $PROGRAM_NAME
  abort 'usage: ruby verify_report.rb SECRET X_ZIPPER_TIME X_ZIPPER_SIGNATURE BODY_FILE [NOW]' unless [4, 5].include?(ARGV.length)
  secret, time_header, signature, path, now = ARGV
  body = File.binread(path)
  ok = if now
         zipper_report_authentic?(secret, time_header, signature, body, now: Integer(now, 10))
       else
         zipper_report_authentic?(secret, time_header, signature, body)
       end
  puts(ok ? 'authentic' : 'REJECTED')
  exit(ok ? 0 : 1)
end
