using System;
using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using CoolAmqp.Framing;

namespace CoolAmqp.Tracing;

/// <summary>
/// One AMQP frame as seen by a tracer: its channel, type and payload (the bytes between the 7-byte frame header
/// and the frame-end octet). A view over the connection's buffer, valid only during <see cref="IFrameTracer.OnFrame"/>.
/// </summary>
public readonly ref struct AmqpFrame
{
    /// <summary>Describes a frame.</summary>
    /// <param name="channel">The channel number (0 for connection-level frames and heartbeats).</param>
    /// <param name="type">The frame type.</param>
    /// <param name="payload">The frame payload: for a method frame, class id, method id and arguments.</param>
    public AmqpFrame(ushort channel, FrameType type, ReadOnlySpan<byte> payload)
    {
        Channel = channel;
        Type = type;
        Payload = payload;
    }

    /// <summary>The channel number (0 for connection-level frames and heartbeats).</summary>
    public ushort Channel { get; }

    /// <summary>The frame type: method, content header, content body or heartbeat.</summary>
    public FrameType Type { get; }

    /// <summary>The frame payload, without frame header and frame-end octet.</summary>
    public ReadOnlySpan<byte> Payload { get; }

    /// <summary>For a method frame, <c>class-id &lt;&lt; 16 | method-id</c> (e.g. <c>0x003C0028</c> for basic.publish); 0 otherwise.</summary>
    public uint CommandId =>
        Type == FrameType.Method && Payload.Length >= 4 ? BinaryPrimitives.ReadUInt32BigEndian(Payload) : 0;

    /// <summary>For a method frame, the method's name, e.g. <c>basic.deliver</c>; <see langword="null"/> for other
    /// frames and unknown methods.</summary>
    public string? MethodName => CommandId == 0 ? null : MethodNames.Get(CommandId);

    /// <summary>
    /// Renders the frame in one line for logs, e.g.
    /// <c>basic.deliver ch=1 consumer-tag=ctag delivery-tag=5 redelivered=false exchange='' routing-key='q'</c>,
    /// <c>header ch=1 class=60 body-size=12 properties=content-type,delivery-mode</c>, <c>body ch=1 size=12</c>,
    /// <c>heartbeat ch=0</c>. Secrets (the SASL response of <c>connection.start-ok</c> and
    /// <c>connection.secure-ok</c>, the new secret of <c>connection.update-secret</c>) are never shown; neither are bodies.
    /// A malformed payload is described as such rather than throwing.
    /// </summary>
    /// <returns>The description.</returns>
    public string Describe()
    {
        var sb = new StringBuilder(96);
        try
        {
            switch (Type)
            {
                case FrameType.Method:
                    DescribeMethod(sb);
                    break;
                case FrameType.Header:
                    DescribeHeader(sb);
                    break;
                case FrameType.Body:
                    Append(sb, $"body ch={Channel} size={Payload.Length}");
                    break;
                case FrameType.Heartbeat:
                    Append(sb, $"heartbeat ch={Channel}");
                    break;
                default:
                    Append(sb, $"frame type={(byte)Type} ch={Channel} size={Payload.Length}");
                    break;
            }
        }
        catch (AmqpFrameFormatException e)
        {
            Append(sb, $" (malformed: {e.Message})");
        }

        return sb.ToString();
    }

    /// <summary>Same as <see cref="Describe"/>.</summary>
    /// <returns>The description.</returns>
    public override string ToString() => Describe();

    /// <summary>A copy of the payload with the secret a method carries (the SASL response of connection.start-ok and
    /// connection.secure-ok, the new secret of connection.update-secret) overwritten with <c>*</c>, so the copy still
    /// parses; a payload that does not parse is copied as it is.</summary>
    internal byte[] PayloadWithoutSecrets()
    {
        byte[] copy = Payload.ToArray();
        if (Type != FrameType.Method || copy.Length < 4)
        {
            return copy;
        }

        ReadOnlySpan<byte> args = copy.AsSpan(4);
        try
        {
            ReadOnlySpan<byte> secret = CommandId switch
            {
                ConnectionStartOk.CommandIdValue => ConnectionStartOk.Read(args).Response,
                ConnectionSecureOk.CommandIdValue => ConnectionSecureOk.Read(args).Response,
                ConnectionUpdateSecret.CommandIdValue => ConnectionUpdateSecret.Read(args).NewSecret,
                _ => default,
            };
            if (!secret.IsEmpty && copy.AsSpan().Overlaps(secret, out int offset))
            {
                copy.AsSpan(offset, secret.Length).Fill((byte)'*');
            }
        }
        catch (AmqpFrameFormatException)
        {
            // Describe says the frame is malformed; there is no field to find.
        }

        return copy;
    }

    private static void Append(StringBuilder sb, FormattableString text) => sb.Append(text.ToString(CultureInfo.InvariantCulture));

    private static string Bool(bool value) => value ? "true" : "false";

    private void DescribeHeader(StringBuilder sb)
    {
        Append(sb, $"header ch={Channel}");
        if (Payload.Length < 14)
        {
            Append(sb, $" (malformed: {Payload.Length} bytes, a content header has at least 14)");
            return;
        }

        ushort classId = BinaryPrimitives.ReadUInt16BigEndian(Payload);
        ulong bodySize = BinaryPrimitives.ReadUInt64BigEndian(Payload.Slice(4));
        Append(sb, $" class={classId} body-size={bodySize}");
        if (classId != AmqpClassIds.Basic)
        {
            return;
        }

        BasicProperties.Reader p = BasicProperties.Read(Payload.Slice(12));
        sb.Append(" properties=");
        int before = sb.Length;
        AppendName(sb, p.HasContentType, "content-type");
        AppendName(sb, p.HasContentEncoding, "content-encoding");
        AppendName(sb, p.HasHeaders, "headers");
        AppendName(sb, p.HasDeliveryMode, "delivery-mode");
        AppendName(sb, p.HasPriority, "priority");
        AppendName(sb, p.HasCorrelationId, "correlation-id");
        AppendName(sb, p.HasReplyTo, "reply-to");
        AppendName(sb, p.HasExpiration, "expiration");
        AppendName(sb, p.HasMessageId, "message-id");
        AppendName(sb, p.HasTimestamp, "timestamp");
        AppendName(sb, p.HasType, "type");
        AppendName(sb, p.HasUserId, "user-id");
        AppendName(sb, p.HasAppId, "app-id");
        AppendName(sb, p.HasReserved, "cluster-id");
        if (sb.Length == before)
        {
            sb.Append("none");
        }
    }

    private static void AppendName(StringBuilder sb, bool present, string name)
    {
        if (present)
        {
            if (sb[^1] != '=')
            {
                sb.Append(',');
            }

            sb.Append(name);
        }
    }

    private void DescribeMethod(StringBuilder sb)
    {
        if (Payload.Length < 4)
        {
            Append(sb, $"method ch={Channel} (malformed: {Payload.Length} bytes, a method frame has at least 4)");
            return;
        }

        uint id = CommandId;
        string? name = MethodNames.Get(id);
        if (name is null)
        {
            Append(sb, $"method {id >> 16}.{id & 0xFFFF} ch={Channel} size={Payload.Length} (unknown method)");
            return;
        }

        Append(sb, $"{name} ch={Channel}");
        ReadOnlySpan<byte> args = Payload.Slice(4);
        switch (id)
        {
            case BasicDeliver.CommandIdValue:
            {
                BasicDeliver.Reader m = BasicDeliver.Read(args);
                Append(sb, $" consumer-tag={m.ConsumerTag} delivery-tag={m.DeliveryTag} redelivered={Bool(m.Redelivered)} exchange='{m.Exchange}' routing-key='{m.RoutingKey}'");
                break;
            }

            case BasicPublish.CommandIdValue:
            {
                BasicPublish.Reader m = BasicPublish.Read(args);
                Append(sb, $" exchange='{m.Exchange}' routing-key='{m.RoutingKey}' mandatory={Bool(m.Mandatory)}");
                break;
            }

            case BasicAck.CommandIdValue:
            {
                BasicAck.Reader m = BasicAck.Read(args);
                Append(sb, $" delivery-tag={m.DeliveryTag} multiple={Bool(m.Multiple)}");
                break;
            }

            case BasicNack.CommandIdValue:
            {
                BasicNack.Reader m = BasicNack.Read(args);
                Append(sb, $" delivery-tag={m.DeliveryTag} multiple={Bool(m.Multiple)} requeue={Bool(m.Requeue)}");
                break;
            }

            case BasicReject.CommandIdValue:
            {
                BasicReject.Reader m = BasicReject.Read(args);
                Append(sb, $" delivery-tag={m.DeliveryTag} requeue={Bool(m.Requeue)}");
                break;
            }

            case BasicReturn.CommandIdValue:
            {
                BasicReturn.Reader m = BasicReturn.Read(args);
                Append(sb, $" reply-code={m.ReplyCode} reply-text='{m.ReplyText}' exchange='{m.Exchange}' routing-key='{m.RoutingKey}'");
                break;
            }

            case BasicConsume.CommandIdValue:
            {
                BasicConsume.Reader m = BasicConsume.Read(args);
                Append(sb, $" queue='{m.Queue}' consumer-tag={m.ConsumerTag} no-ack={Bool(m.NoAck)} exclusive={Bool(m.Exclusive)}");
                break;
            }

            case BasicConsumeOk.CommandIdValue:
                Append(sb, $" consumer-tag={BasicConsumeOk.Read(args).ConsumerTag}");
                break;
            case BasicCancel.CommandIdValue:
                Append(sb, $" consumer-tag={BasicCancel.Read(args).ConsumerTag}");
                break;
            case BasicQos.CommandIdValue:
            {
                BasicQos.Reader m = BasicQos.Read(args);
                Append(sb, $" prefetch-size={m.PrefetchSize} prefetch-count={m.PrefetchCount} global={Bool(m.Global)}");
                break;
            }

            case ChannelClose.CommandIdValue:
            {
                ChannelClose.Reader m = ChannelClose.Read(args);
                AppendClose(sb, m.ReplyCode, m.ReplyText, m.ClassId, m.MethodId);
                break;
            }

            case ConnectionClose.CommandIdValue:
            {
                ConnectionClose.Reader m = ConnectionClose.Read(args);
                AppendClose(sb, m.ReplyCode, m.ReplyText, m.ClassId, m.MethodId);
                break;
            }

            case ConnectionTune.CommandIdValue:
            {
                ConnectionTune.Reader m = ConnectionTune.Read(args);
                Append(sb, $" channel-max={m.ChannelMax} frame-max={m.FrameMax} heartbeat={m.Heartbeat}");
                break;
            }

            case ConnectionTuneOk.CommandIdValue:
            {
                ConnectionTuneOk.Reader m = ConnectionTuneOk.Read(args);
                Append(sb, $" channel-max={m.ChannelMax} frame-max={m.FrameMax} heartbeat={m.Heartbeat}");
                break;
            }

            case ConnectionStart.CommandIdValue:
            {
                ConnectionStart.Reader m = ConnectionStart.Read(args);
                Append(sb, $" version={m.VersionMajor}-{m.VersionMinor} mechanisms='{Wire.DecodeString(m.Mechanisms)}'");
                break;
            }

            case ConnectionStartOk.CommandIdValue:
            {
                // The response holds the SASL credentials (PLAIN: \0user\0password): show only its length.
                ConnectionStartOk.Reader m = ConnectionStartOk.Read(args);
                Append(sb, $" mechanism={m.Mechanism} response=<redacted, {m.Response.Length} bytes> locale={m.Locale}");
                break;
            }

            case ConnectionSecureOk.CommandIdValue:
                Append(sb, $" response=<redacted, {ConnectionSecureOk.Read(args).Response.Length} bytes>");
                break;
            case ConnectionUpdateSecret.CommandIdValue:
                Append(sb, $" new-secret=<redacted, {ConnectionUpdateSecret.Read(args).NewSecret.Length} bytes>");
                break;
            case ConnectionOpen.CommandIdValue:
                Append(sb, $" virtual-host='{ConnectionOpen.Read(args).VirtualHost}'");
                break;
            case ConnectionBlocked.CommandIdValue:
                Append(sb, $" reason='{ConnectionBlocked.Read(args).Reason}'");
                break;
            case ChannelFlow.CommandIdValue:
                Append(sb, $" active={Bool(ChannelFlow.Read(args).Active)}");
                break;
            case QueueDeclare.CommandIdValue:
            {
                QueueDeclare.Reader m = QueueDeclare.Read(args);
                Append(sb, $" queue='{m.Queue}' passive={Bool(m.Passive)} durable={Bool(m.Durable)} exclusive={Bool(m.Exclusive)} auto-delete={Bool(m.AutoDelete)}");
                break;
            }

            case QueueDeclareOk.CommandIdValue:
            {
                QueueDeclareOk.Reader m = QueueDeclareOk.Read(args);
                Append(sb, $" queue='{m.Queue}' message-count={m.MessageCount} consumer-count={m.ConsumerCount}");
                break;
            }

            case QueueBind.CommandIdValue:
            {
                QueueBind.Reader m = QueueBind.Read(args);
                Append(sb, $" queue='{m.Queue}' exchange='{m.Exchange}' routing-key='{m.RoutingKey}'");
                break;
            }

            case ExchangeDeclare.CommandIdValue:
            {
                ExchangeDeclare.Reader m = ExchangeDeclare.Read(args);
                Append(sb, $" exchange='{m.Exchange}' type={m.Type} durable={Bool(m.Durable)} auto-delete={Bool(m.AutoDelete)}");
                break;
            }

            default:
                if (args.Length > 0)
                {
                    Append(sb, $" size={args.Length}");
                }

                break;
        }
    }

    private static void AppendClose(StringBuilder sb, ushort replyCode, string replyText, ushort classId, ushort methodId)
    {
        Append(sb, $" reply-code={replyCode} reply-text='{replyText}'");
        if (classId != 0 || methodId != 0)
        {
            string? failed = MethodNames.Get(((uint)classId << 16) | methodId);
            Append(sb, $" failed-method={failed ?? $"{classId}.{methodId}"}");
        }
    }
}
