using System;
using System.Globalization;
using System.Text;

namespace CoolAmqp.Compat;

/// <summary>The string members newer than netstandard2.0 that the runtime calls, as extension members.</summary>
internal static class StringCompat
{
    extension(string text)
    {
        public bool Contains(char value, StringComparison comparisonType) =>
            text.IndexOf(value.ToString(), comparisonType) >= 0;

        public bool Contains(string value, StringComparison comparisonType) => text.IndexOf(value, comparisonType) >= 0;

        public int IndexOf(char value, StringComparison comparisonType) => text.IndexOf(value.ToString(), comparisonType);

        public bool StartsWith(char value) => text.Length > 0 && text[0] == value;

        public bool EndsWith(char value) => text.Length > 0 && text[text.Length - 1] == value;

        public string[] Split(char separator, StringSplitOptions options) => text.Split(new[] { separator }, options);

        public string Replace(string oldValue, string? newValue, StringComparison comparisonType)
        {
            if (comparisonType != StringComparison.Ordinal)
            {
                throw new NotSupportedException("Only ordinal replacement is provided on netstandard2.0.");
            }

            return text.Replace(oldValue, newValue);
        }
    }

    extension(string)
    {
        /// <summary>An interpolated string formatted with <paramref name="provider"/> (.NET 6 takes a handler; a
        /// <see cref="FormattableString"/> gives the same text).</summary>
        public static string Create(IFormatProvider? provider, FormattableString text) => text.ToString(provider);

        public static string Concat(ReadOnlySpan<char> str0, ReadOnlySpan<char> str1, ReadOnlySpan<char> str2) =>
            string.Concat(str0.ToString(), str1.ToString(), str2.ToString());
    }

    extension(StringBuilder builder)
    {
        public StringBuilder Append(IFormatProvider? provider, FormattableString text) => builder.Append(text.ToString(provider));
    }

    extension(Convert)
    {
        public static string ToHexString(ReadOnlySpan<byte> bytes)
        {
            var builder = new StringBuilder(bytes.Length * 2);
            foreach (byte b in bytes)
            {
                builder.Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }

            return builder.ToString();
        }
    }

    extension(Enum)
    {
        public static string? GetName<TEnum>(TEnum value)
            where TEnum : struct, Enum =>
            Enum.GetName(typeof(TEnum), value);
    }
}
