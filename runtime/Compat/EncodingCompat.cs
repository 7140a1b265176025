using System;
using System.Buffers;
using System.Text;

namespace CoolAmqp.Compat;

/// <summary>The span members .NET Core 2.1 added to <see cref="Encoding"/>, over the array ones (netstandard2.0 has
/// only those and pointer overloads, and the runtime compiles without unsafe code).</summary>
internal static class EncodingCompat
{
    extension(Encoding encoding)
    {
        public string GetString(ReadOnlySpan<byte> bytes)
        {
            if (bytes.IsEmpty)
            {
                return string.Empty;
            }

            byte[] rented = ArrayPool<byte>.Shared.Rent(bytes.Length);
            try
            {
                bytes.CopyTo(rented);
                return encoding.GetString(rented, 0, bytes.Length);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        public int GetBytes(string chars, Span<byte> bytes) => encoding.GetBytes(chars.AsSpan(), bytes);

        public int GetBytes(ReadOnlySpan<char> chars, Span<byte> bytes)
        {
            if (chars.IsEmpty)
            {
                return 0;
            }

            char[] source = ArrayPool<char>.Shared.Rent(chars.Length);
            byte[] target = ArrayPool<byte>.Shared.Rent(encoding.GetMaxByteCount(chars.Length));
            try
            {
                chars.CopyTo(source);
                int written = encoding.GetBytes(source, 0, chars.Length, target, 0);
                if (written > bytes.Length)
                {
                    throw new ArgumentException("The destination is too small for the encoded text.", nameof(bytes));
                }

                target.AsSpan(0, written).CopyTo(bytes);
                return written;
            }
            finally
            {
                ArrayPool<char>.Shared.Return(source);
                ArrayPool<byte>.Shared.Return(target);
            }
        }

        public int GetByteCount(ReadOnlySpan<char> chars) =>
            chars.IsEmpty ? 0 : encoding.GetByteCount(chars.ToArray());
    }
}
