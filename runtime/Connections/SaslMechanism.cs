using System;
using System.Collections.Generic;
using System.Text;
using CoolAmqp.Framing;

namespace CoolAmqp.Connections;

/// <summary>A SASL mechanism the client can answer connection.start with (spec section 4.10.2; RabbitMQ's
/// access-control guide for AMQPLAIN and EXTERNAL).</summary>
internal abstract class SaslMechanism
{
    private static readonly SaslMechanism[] Known = [new Plain(), new AmqPlain(), new External()];

    /// <summary>The name sent in connection.start-ok.</summary>
    public abstract string Name { get; }

    /// <summary>The response in connection.start-ok.</summary>
    public abstract byte[] InitialResponse(string user, string password);

    /// <summary>The response to a connection.secure challenge. None of ours expects one, so the credentials
    /// are sent again.</summary>
    public virtual byte[] ChallengeResponse(ReadOnlySpan<byte> challenge, string user, string password) =>
        InitialResponse(user, password);

    /// <summary>The first of <paramref name="allowed"/> (in the client's order of preference) that the broker
    /// lists in <paramref name="offered"/> (space-separated), or null.</summary>
    public static SaslMechanism? Choose(IEnumerable<string> allowed, string offered)
    {
        string[] offers = offered.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        foreach (string wanted in allowed)
        {
            if (Array.IndexOf(offers, wanted) < 0)
            {
                continue;
            }

            foreach (SaslMechanism mechanism in Known)
            {
                if (string.Equals(mechanism.Name, wanted, StringComparison.Ordinal))
                {
                    return mechanism;
                }
            }
        }

        return null;
    }

    /// <summary>RFC 4616: authzid NUL authcid NUL password, with an empty authzid.</summary>
    private sealed class Plain : SaslMechanism
    {
        public override string Name => "PLAIN";

        public override byte[] InitialResponse(string user, string password)
        {
            int userBytes = Encoding.UTF8.GetByteCount(user);
            byte[] response = new byte[2 + userBytes + Encoding.UTF8.GetByteCount(password)];
            Encoding.UTF8.GetBytes(user, response.AsSpan(1));
            Encoding.UTF8.GetBytes(password, response.AsSpan(2 + userBytes));
            return response;
        }
    }

    /// <summary>RabbitMQ's AMQPLAIN: a field table body (no length prefix) with LOGIN and PASSWORD.</summary>
    private sealed class AmqPlain : SaslMechanism
    {
        public override string Name => "AMQPLAIN";

        public override byte[] InitialResponse(string user, string password)
        {
            var table = new FieldTable { { "LOGIN", user }, { "PASSWORD", password } };
            byte[] encoded = new byte[table.GetSize()];
            int written = table.WriteTo(encoded);
            return encoded.AsSpan(4, written - 4).ToArray();
        }
    }

    /// <summary>EXTERNAL: identity from the TLS client certificate; the response is empty.</summary>
    private sealed class External : SaslMechanism
    {
        public override string Name => "EXTERNAL";

        public override byte[] InitialResponse(string user, string password) => [];
    }
}
