namespace CoolAmqp.Bench.Drivers;

/// <summary>Message bodies: a fixed, non-zero pattern so nothing can compress or skip them.</summary>
internal static class Payload
{
    public static byte[] Create(int size)
    {
        var body = new byte[size];
        Fill(body);
        return body;
    }

    public static void Fill(byte[] body)
    {
        for (var i = 0; i < body.Length; i++) body[i] = (byte)('a' + (i % 26));
    }
}
