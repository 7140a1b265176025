using System;
using System.Linq;
using CoolAmqp;
using NUnit.Framework;

namespace CoolAmqp.Tests.Api;

[TestFixture]
public sealed class ExceptionTests
{
    [Test]
    public void Every_exception_type_of_the_library_derives_from_CoolAmqpException()
    {
        Type[] exceptions = typeof(Cluster).Assembly.GetTypes()
            .Where(t => typeof(Exception).IsAssignableFrom(t) && t != typeof(CoolAmqpException))
            .ToArray();
        Assert.That(exceptions, Has.Length.GreaterThanOrEqualTo(12), "the library's exceptions were found");
        Assert.That(exceptions.Where(t => !t.IsSubclassOf(typeof(CoolAmqpException))).Select(t => t.FullName), Is.Empty);
        Assert.That(typeof(CoolAmqpException).IsAbstract, Is.True, "the root is for catching, not for throwing");
    }

    [Test]
    public void Amqp_exception_fields_and_message()
    {
        var e = new AmqpException(404, "NOT_FOUND - no exchange 'x' in vhost '/'", 60, 40);
        Assert.Multiple(() =>
        {
            Assert.That(e.ReplyCode, Is.EqualTo((ushort)404));
            Assert.That(e.ReplyText, Is.EqualTo("NOT_FOUND - no exchange 'x' in vhost '/'"));
            Assert.That(e.ClassId, Is.EqualTo((ushort)60));
            Assert.That(e.MethodId, Is.EqualTo((ushort)40));
            Assert.That(e.IsHardError, Is.False);
            Assert.That(e.MethodName, Is.EqualTo("basic.publish"));
            Assert.That(e.Message, Is.EqualTo("basic.publish failed: 404 NOT_FOUND - no exchange 'x' in vhost '/'"));
        });
    }

    [Test]
    public void Amqp_exception_adds_the_constant_name_when_the_text_lacks_it()
    {
        var e = new AmqpException(406, "inequivalent arg 'durable'", 0, 0);
        Assert.That(e.Message, Is.EqualTo("AMQP error: 406 PRECONDITION_FAILED - inequivalent arg 'durable'"));
        Assert.That(new AmqpException(999, "", 0, 0).Message, Is.EqualTo("AMQP error: 999"));
        Assert.That(new AmqpException(530, "", 20, 10).Message, Is.EqualTo("channel.open failed: 530 NOT_ALLOWED"));
        Assert.That(new AmqpException(541, "boom", 99, 99).Message, Is.EqualTo("method 99.99 failed: 541 INTERNAL_ERROR - boom"));
        Assert.That(new AmqpException(200, "", 0, 0).Message, Is.EqualTo("AMQP error: 200 REPLY_SUCCESS"));
    }

    [TestCase((ushort)320, true)]
    [TestCase((ushort)402, true)]
    [TestCase((ushort)501, true)]
    [TestCase((ushort)506, true)]
    [TestCase((ushort)530, true)]
    [TestCase((ushort)540, true)]
    [TestCase((ushort)541, true)]
    [TestCase((ushort)311, false)]
    [TestCase((ushort)403, false)]
    [TestCase((ushort)404, false)]
    [TestCase((ushort)405, false)]
    [TestCase((ushort)406, false)]
    public void Hard_errors(ushort code, bool hard)
    {
        Assert.That(new AmqpException(code, "x", 0, 0).IsHardError, Is.EqualTo(hard));
    }

    [Test]
    public void Authentication_failed_is_an_access_refused_amqp_exception()
    {
        AmqpException e = new AuthenticationFailedException("ACCESS_REFUSED - Login was refused");
        Assert.That(e.ReplyCode, Is.EqualTo((ushort)403));
        Assert.That(e.Message, Does.Contain("403 ACCESS_REFUSED - Login was refused"));
        Assert.That(new AuthenticationFailedException().ReplyCode, Is.EqualTo((ushort)403));
    }

    [Test]
    public void Returned_and_nacked_and_dead()
    {
        var r = new MessageReturnedException(312, "NO_ROUTE", "ex", "rk");
        Assert.That((r.ReplyCode, r.ReplyText, r.Exchange, r.RoutingKey), Is.EqualTo(((ushort)312, "NO_ROUTE", "ex", "rk")));
        Assert.That(r.Message, Does.Contain("'ex'").And.Contain("'rk'").And.Contain("312 NO_ROUTE"));
        Assert.That(new MessageNackedException().Message, Does.Contain("nack"));
        var inner = new TimeoutException();
        Assert.That(new ConnectionDeadException("x", inner).InnerException, Is.SameAs(inner));
    }
}
