namespace System.Text.Unicode;

/// <summary>.NET 8's <c>Utf8.IsValid</c>, through a strict decoder (it rejects what .NET's validator rejects:
/// overlong forms, surrogates, truncated sequences).</summary>
internal static class Utf8
{
    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static bool IsValid(ReadOnlySpan<byte> value)
    {
        try
        {
            _ = Strict.GetString(value);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }
}
