#!/usr/bin/env ruby
# frozen_string_literal: true

# Make a zipper download link path (see docs/signing.md). Ruby 2.4+, standard library only.
# zipper's test suite runs it against the test vector and random callbacks (tests/it/link.rs).
#
# Usage: ruby sign.rb SECRET KEY_ID CALLBACK_URL FILENAME
# Prints /{key_id}/{callback}/{signature}/{filename}; prefix it with zipper's base URL.

require 'openssl'

# Percent-encodes every byte outside A-Za-z0-9-._~.
def encode_segment(text)
  text.b.gsub(/[^A-Za-z0-9\-._~]/n) { |c| format('%%%02X', c.ord) }
end

def zipper_link_path(secret, key_id, callback, filename)
  # The signature covers the callback URL itself (timestamp included), not its encoded form.
  mac = OpenSSL::HMAC.digest('SHA256', secret, callback)
  signature = [mac].pack('m0').tr('+/', '-_').delete('=')
  "/#{encode_segment(key_id)}/#{encode_segment(callback)}/#{signature}/#{encode_segment(filename)}"
end

if __FILE__ == $PROGRAM_NAME
  abort 'usage: ruby sign.rb SECRET KEY_ID CALLBACK_URL FILENAME' unless ARGV.length == 4
  puts zipper_link_path(*ARGV)
end
